# A whole Slurm cluster on localhost for tests: munged, slurmctld and one slurmd, started as
# plain background processes (no systemd) with everything they need (munge key, slurm.conf,
# state, spool, logs, sockets) generated under one directory, so nothing depends on the
# machine's /etc or /var. Source it from a POSIX sh script, then:
#   cluster_start DIR   starts the daemons under DIR; on failure prints "SKIP: <reason>"
#                       and returns 77 (no packages, not root, a daemon did not come up).
#   cluster_stop        cancels every job, stops the daemons and waits for them; safe to
#                       call twice and from an EXIT trap.
#   cluster_wait_idle S waits up to S seconds for the queue to empty (returns 1 on timeout).
# After cluster_start, SLURM_CONF is exported, so sbatch/squeue/scontrol talk to this cluster.
# The node is "pamoe1" with the local CPUs; the partition is "debug".

CLUSTER_DIR=""
CLUSTER_PIDS=""

cluster_skip() { echo "SKIP: $*"; return 77; }

# A TCP port nobody listens on, from a range above the usual services (without ss, the
# first one: a taken port shows as a daemon that does not come up, a SKIP).
cluster_free_port() {
    p=$1
    while [ "$p" -lt 65000 ]; do
        if ! command -v ss >/dev/null 2>&1 || ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"; return 0
        fi
        p=$((p + 1))
    done
    return 1
}

cluster_start() {
    CLUSTER_DIR=$1
    for b in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
        command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin"
        command -v "$b" >/dev/null 2>&1 ||
            { cluster_skip "$b not installed (Debian packages slurm-wlm and munge; scripts/setup.sh installs them as root)"; return 77; }
    done
    [ "$(id -u)" -eq 0 ] || { cluster_skip "slurmd needs root"; return 77; }
    d=$CLUSTER_DIR
    mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" && chmod 700 "$d/munge"
    mungekey --create --keyfile="$d/munge/munge.key" >/dev/null 2>&1 ||
        dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$d/munge/munge.key"
    # --force: the temporary directory's parents need not pass munged's ownership checks.
    munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.socket" \
        --pid-file="$d/munge/munged.pid" --log-file="$d/log/munged.log" \
        --seed-file="$d/munge/munged.seed" 2>"$d/log/munged.err" ||
        { cluster_skip "munged did not start: $(tail -1 "$d/log/munged.err")"; return 77; }
    CLUSTER_PIDS="$(cat "$d/munge/munged.pid")"
    ctld_port=$(cluster_free_port 16817) && slurmd_port=$(cluster_free_port $((ctld_port + 1))) ||
        { cluster_skip "no free TCP port"; return 77; }
    host=$(hostname -s)
    cpus=$(nproc)
    cat > "$d/slurm.conf" <<EOF
ClusterName=pamoetest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.socket,cred_expire=5
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=1,sched_min_interval=100000
MinJobAge=600
KillWait=2
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=pamoe1 NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=pamoe1 Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$d/slurm.conf"
    slurmctld -D -c -f "$SLURM_CONF" >"$d/log/slurmctld.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"
    slurmd -D -N pamoe1 -f "$SLURM_CONF" >"$d/log/slurmd.out" 2>&1 &
    CLUSTER_PIDS="$CLUSTER_PIDS $!"
    # The node is up when sinfo reports it idle.
    i=0
    while [ $i -lt 150 ]; do
        state=$(sinfo -h -N -n pamoe1 -o %T 2>/dev/null || true)
        [ "$state" = idle ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    why=$(tail -2 "$d/log/slurmctld.log" "$d/log/slurmd.log" 2>/dev/null | tr '\n' ' ')
    cluster_stop
    cluster_skip "the Slurm node did not come up in 30 s (state '${state:-none}'): $why"
    return 77
}

cluster_wait_idle() {
    i=0
    while [ $i -lt $(($1 * 5)) ]; do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    return 1
}

cluster_stop() {
    [ -n "$CLUSTER_PIDS" ] || return 0
    if [ -n "${SLURM_CONF:-}" ]; then
        scancel --full --quiet --user=root >/dev/null 2>&1 || true
        cluster_wait_idle 10 || true
        scontrol shutdown >/dev/null 2>&1 || true
    fi
    # slurmctld and slurmd exit on shutdown; munged on SIGTERM. Kill whatever lingers.
    for pid in $CLUSTER_PIDS; do kill "$pid" 2>/dev/null || true; done
    i=0
    for pid in $CLUSTER_PIDS; do
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    CLUSTER_PIDS=""
}
