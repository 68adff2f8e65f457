import math, statistics
xs = [math.sin(i / 10) * i for i in range(100000)]
print(round(statistics.mean(xs), 6), round(sum(x * x for x in xs), 2))
