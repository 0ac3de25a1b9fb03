"""procmon: CPU time and peak memory of a daemon's process tree, from /proc.

A daemon may be one process with threads (routehubd, BIRD, FRR bgpd, GoBGP) or
several processes (OpenBGPD: parent, session engine, route decision engine, RTR).
The monitor samples the tree below one root PID every `interval` seconds:

  * CPU seconds: utime + stime of every process (/proc/PID/stat fields 14, 15),
    the last value seen per PID summed (a child that exits keeps its last sample);
  * per thread: utime + stime and name (/proc/PID/task/TID/stat), for the
    "which threads did the work" breakdown;
  * peak resident memory: VmHWM of each process (/proc/PID/status), the largest
    seen per PID, summed over the tree (shared pages of forked children are
    counted in each, so this is an upper bound for multi-process daemons);
  * on-CPU nanoseconds (/proc/PID/task/TID/schedstat, first field), summed: a
    precise counter used to tell when the daemon has gone quiet.

Only reads /proc; never signals anything.
"""

import os
import threading
import time

TICK = os.sysconf('SC_CLK_TCK')


def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('ascii', 'replace')
    except OSError:
        return None


def _stat_fields(text):
    """(comm, fields after comm) of a /proc stat line; comm may contain spaces."""
    lp, rp = text.find('('), text.rfind(')')
    return text[lp + 1:rp], text[rp + 2:].split()


def children_map():
    """{ppid: [pid, ...]} of every process on the host."""
    out = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        t = _read(f'/proc/{d}/stat')
        if not t:
            continue
        _comm, f = _stat_fields(t)
        out.setdefault(int(f[1]), []).append(int(d))
    return out


def tree(root):
    """root and all its descendants that are alive now."""
    kids = children_map()
    todo, seen = [root], []
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


class Sample:
    __slots__ = ('t', 'cpu', 'oncpu_ns')

    def __init__(self, t, cpu, oncpu_ns):
        self.t, self.cpu, self.oncpu_ns = t, cpu, oncpu_ns


class ProcMon:
    """Samples a process tree in a background thread until stop()."""

    def __init__(self, root_pid, interval=0.05, tree_every=20):
        self.root = root_pid
        self.interval = interval
        self.tree_every = tree_every  # rescan descendants every N samples
        self.lock = threading.Lock()
        self.proc_cpu = {}    # pid -> (comm, ticks)
        self.thread_cpu = {}  # (pid, tid) -> (comm, ticks)
        self.hwm_kb = {}      # pid -> VmHWM kB
        self.rss_kb = {}      # pid -> last VmRSS kB
        self.oncpu = {}       # (pid, tid) -> ns
        self.samples = []     # Sample, for quiet detection and phase attribution
        self.pids = [root_pid]
        self._stop = threading.Event()
        self._th = None
        self._n = 0

    # -- sampling --------------------------------------------------------------
    def sample(self):
        if self._n % self.tree_every == 0:
            alive = tree(self.root)
            if alive:
                self.pids = alive
        self._n += 1
        now = time.monotonic()
        for pid in list(self.pids):
            t = _read(f'/proc/{pid}/stat')
            if t is None:
                continue
            comm, f = _stat_fields(t)
            ticks = int(f[11]) + int(f[12])
            st = _read(f'/proc/{pid}/status') or ''
            hwm = rss = 0
            for line in st.splitlines():
                if line.startswith('VmHWM:'):
                    hwm = int(line.split()[1])
                elif line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
            try:
                tids = os.listdir(f'/proc/{pid}/task')
            except OSError:
                tids = []
            thr = {}
            ons = {}
            for tid in tids:
                tt = _read(f'/proc/{pid}/task/{tid}/stat')
                if tt:
                    tc, tf = _stat_fields(tt)
                    thr[(pid, int(tid))] = (tc, int(tf[11]) + int(tf[12]))
                ss = _read(f'/proc/{pid}/task/{tid}/schedstat')
                if ss:
                    ons[(pid, int(tid))] = int(ss.split()[0])
            with self.lock:
                self.proc_cpu[pid] = (comm, ticks)
                if hwm >= self.hwm_kb.get(pid, 0):
                    self.hwm_kb[pid] = hwm
                self.rss_kb[pid] = rss
                self.thread_cpu.update(thr)
                self.oncpu.update(ons)
        with self.lock:
            self.samples.append(Sample(now, self._cpu_locked(), sum(self.oncpu.values())))

    def _cpu_locked(self):
        return sum(t for _c, t in self.proc_cpu.values()) / TICK

    def _run(self):
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a process vanished mid-read: next sample
                pass
            self._stop.wait(self.interval)

    def start(self):
        self.sample()
        self._th = threading.Thread(target=self._run, name='procmon', daemon=True)
        self._th.start()
        return self

    def stop(self):
        self._stop.set()
        if self._th:
            self._th.join(5)
        try:
            self.sample()
        except Exception:  # noqa: BLE001
            pass

    # -- results ---------------------------------------------------------------
    def cpu_seconds(self):
        with self.lock:
            return self._cpu_locked()

    def peak_rss_mb(self):
        with self.lock:
            return sum(self.hwm_kb.values()) / 1024.0

    def rss_mb(self):
        with self.lock:
            return sum(self.rss_kb.values()) / 1024.0

    def oncpu_ns(self):
        with self.lock:
            return sum(self.oncpu.values())

    def threads(self, top=12):
        """[(name, cpu seconds)] grouped by thread name, busiest first."""
        by = {}
        with self.lock:
            for (_pid, _tid), (comm, ticks) in self.thread_cpu.items():
                by[comm] = by.get(comm, 0) + ticks / TICK
        return sorted(by.items(), key=lambda kv: -kv[1])[:top]

    def processes(self):
        with self.lock:
            return {pid: {'comm': c, 'cpu_s': t / TICK, 'hwm_mb': self.hwm_kb.get(pid, 0) / 1024.0}
                    for pid, (c, t) in self.proc_cpu.items()}

    def wait_quiet(self, quiet_s, busy_frac=0.05, window=0.1, limit_s=60.0, since=None):
        """Block until the tree used less than busy_frac of a core in every
        `window` for `quiet_s` seconds. Returns (end_of_last_busy_window or
        `since`, timed_out). The returned time is monotonic."""
        since = time.monotonic() if since is None else since
        deadline = time.monotonic() + limit_s
        last_busy = since
        while True:
            time.sleep(self.interval)
            with self.lock:
                s = [x for x in self.samples if x.t >= since - window]
            # busy windows: consecutive samples whose on-CPU delta exceeds the threshold
            for a, b in zip(s, s[1:]):
                dt = b.t - a.t
                if dt > 0 and (b.oncpu_ns - a.oncpu_ns) / 1e9 > busy_frac * dt and b.t > last_busy:
                    last_busy = b.t
            now = time.monotonic()
            if now - last_busy >= quiet_s:
                return last_busy, False
            if now >= deadline:
                return last_busy, True
