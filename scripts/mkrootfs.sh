#!/bin/sh
# mkrootfs.sh DIR — a busybox root filesystem for demos and benchmarks
# (the Go tests make their own, see test/harness).
set -eu
dir=$1
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkrootfs: $bb missing (make deps installs busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/dev" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/tmp" "$dir/root"
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' > "$dir/etc/group"
echo "$dir"
