import csv, json, os
os.makedirs("out", exist_ok=True)
with open("out/data.csv", "w", newline="") as f:
    w = csv.writer(f)
    for i in range(1000):
        w.writerow([i, i * i])
with open("out/data.csv") as f:
    total = sum(int(r[1]) for r in csv.reader(f))
json.dump({"total": total}, open("out/summary.json", "w"))
os.rename("out/summary.json", "out/result.json")
os.remove("out/data.csv")
print(total)
