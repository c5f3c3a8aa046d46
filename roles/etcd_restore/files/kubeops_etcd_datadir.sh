# Copyright: kubeops.runbook contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# kubeops_etcd_datadir.sh: the etcd data directory steps of the etcd_restore role, on one member (run by
# ansible.builtin.script). Nothing is deleted: the previous data is kept aside, a failed restore's data too.
#
#   kubeops_etcd_datadir.sh where   DATA_DIR STAMP        the paths this restore uses, as JSON (changes nothing)
#   kubeops_etcd_datadir.sh aside   DATA_DIR STAMP        keep the current data aside
#   kubeops_etcd_datadir.sh install DATA_DIR STAMP OWNER  put the restored data (in the staging path) in place, owned
#                                                         by OWNER (user:group, what etcd runs as)
#   kubeops_etcd_datadir.sh back    DATA_DIR STAMP        put the data kept aside back (the restored data is kept)
#
# A data directory that is a file system of its own (a mount point) cannot be renamed (EBUSY), and a path beside it is
# on another file system: then what it holds is moved within it - aside into DATA_DIR/.before-restore-STAMP, restored
# into DATA_DIR/.restore-STAMP - so every move is a rename on that file system. Otherwise the directory itself is
# renamed to DATA_DIR.before-restore-STAMP and the restore is made in DATA_DIR.restore-STAMP beside it.
# Prints one JSON line; exit status 0, or 1 with the reason on stderr.
set -eu

cmd=${1:?command} dir=${2:?data dir} stamp=${3:?stamp}
dir=${dir%/}
if mountpoint -q "$dir" 2>/dev/null; then
    mount=true before="$dir/.before-restore-$stamp" staging="$dir/.restore-$stamp" failed="$dir/.failed-restore-$stamp"
else
    mount=false before="$dir.before-restore-$stamp" staging="$dir.restore-$stamp" failed="$dir.failed-restore-$stamp"
fi

# every entry of the data directory but the ones a restore keeps there
entries() {
    find "$1" -mindepth 1 -maxdepth 1 ! -name '.before-restore-*' ! -name '.restore-*' ! -name '.failed-restore-*'
}

# move every entry of $1 (but ours) into the directory $2
move_entries() {
    entries "$1" | while IFS= read -r entry; do mv -- "$entry" "$2/"; done
}

json() {
    printf '{"changed": %s, "mount_point": %s, "data_dir": "%s", "before": "%s", "staging": "%s", "failed": "%s"%s}\n' \
        "$1" "$mount" "$dir" "$before" "$staging" "$failed" "${2:-}"
}

case "$cmd" in
where)
    owner=""
    [ -e "$dir" ] && owner=$(stat -c %U:%G "$dir")
    json false ", \"exists\": $([ -e "$dir" ] && echo true || echo false), \"owner\": \"$owner\""
    ;;
aside)
    if [ -e "$before" ]; then json false; exit 0; fi          # done by an earlier attempt of this restore
    if [ "$mount" = true ]; then
        mkdir -m 0700 "$before"
        move_entries "$dir" "$before"
    elif [ -e "$dir" ]; then
        mv -T -- "$dir" "$before"
    else
        json false; exit 0
    fi
    json true
    ;;
install)
    owner=${4:?owner}
    [ -d "$staging" ] || { echo "no restored data at $staging" >&2; exit 1; }
    if [ "$mount" = true ]; then
        if [ -n "$(entries "$dir")" ]; then echo "$dir is not empty: its data was not kept aside" >&2; exit 1; fi
        move_entries "$staging" "$dir"
        rmdir -- "$staging"
    else
        if [ -e "$dir" ]; then echo "$dir exists: its data was not kept aside" >&2; exit 1; fi
        mv -T -- "$staging" "$dir"
    fi
    chown -R -- "$owner" "$dir"
    chmod 0700 -- "$dir"
    json true
    ;;
back)
    [ -e "$before" ] || { echo "nothing kept aside at $before" >&2; exit 1; }
    if [ "$mount" = true ]; then
        mkdir -p -m 0700 "$failed"
        move_entries "$dir" "$failed"
        if [ -d "$staging" ]; then mv -T -- "$staging" "$failed/restore"; fi
        move_entries "$before" "$dir"
        rmdir -- "$before"
    else
        if [ -e "$dir" ]; then mv -T -- "$dir" "$failed"; elif [ -e "$staging" ]; then mv -T -- "$staging" "$failed"; fi
        mv -T -- "$before" "$dir"
    fi
    json true
    ;;
*)
    echo "unknown command $cmd (where, aside, install, back)" >&2
    exit 1
    ;;
esac
