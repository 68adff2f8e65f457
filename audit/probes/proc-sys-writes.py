# Opened for writing and closed at once: nothing is written.
import stat
for p in ['/proc/sys/kernel/hostname', '/proc/sys/kernel/core_pattern', '/proc/sys/vm/drop_caches',
          '/proc/sysrq-trigger', '/sys/kernel/mm/transparent_hugepage/enabled', '/sys/kernel/uevent_helper',
          '/proc/self/oom_score_adj']:
    R[p] = tryopen(p, os.O_WRONLY)
try:
    st, dn = os.stat('/proc/sysrq-trigger'), os.stat('/dev/null')
    R['sysrq_is_null'] = str(stat.S_ISCHR(st.st_mode) and st.st_rdev == dn.st_rdev)
except Exception as e:
    R['sysrq_is_null'] = _e(e)
done()
