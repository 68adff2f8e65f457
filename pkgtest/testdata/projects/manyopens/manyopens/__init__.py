"""What pygments' suite does to a report: thousands of file opens (its
lexers' example files), the bulk of the audit hook's events."""


def roundtrip(path, text):
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        return f.read()
