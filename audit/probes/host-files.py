R['secret'] = tryread(os.environ['SECRET_PATH'])
R['shadow'] = attempt(lambda: len(open('/etc/shadow', 'rb').read()) and None)
R['write_tmp'] = trywrite(os.environ['HOST_TMP_FILE'], os.environ['MARK'])
done()
