#!/usr/bin/env bash
# Makes a build context for imm's switching proxy: Debian's nginx (package
# nginx-light, installed if missing) with its shared-library closure, for a
# FROM scratch image, as the busybox base is made. Usage:
#   scripts/prepare-proxy.sh DIR   (writes DIR/Dockerfile and DIR/rootfs/)
# Idempotent: a DIR already prepared from the same nginx is left as it is.
set -euo pipefail
dir=${1:?usage: scripts/prepare-proxy.sh DIR}
if ! [ -x /usr/sbin/nginx ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
  # The package may start a host nginx on :80; imm's proxy runs in containers only.
  (nginx -s stop 2>/dev/null || true)
fi
stamp="$(sha256sum /usr/sbin/nginx | cut -c1-16)"
if [ -f "$dir/rootfs/.nginx-$stamp" ]; then exit 0; fi
rm -rf "$dir/rootfs"
mkdir -p "$dir/rootfs"
"$(dirname "$0")/copy-with-libraries.sh" /usr/sbin/nginx "$dir/rootfs"
mkdir -p "$dir/rootfs/etc/nginx" "$dir/rootfs/var/lib/nginx" "$dir/rootfs/var/log/nginx" \
  "$dir/rootfs/run" "$dir/rootfs/tmp"
echo 'root:x:0:0:root:/:/nonexistent' > "$dir/rootfs/etc/passwd"
echo 'nogroup:x:65534:' > "$dir/rootfs/etc/group"
echo 'root:x:0:' >> "$dir/rootfs/etc/group"
echo 'nobody:x:65534:65534:nobody:/:/nonexistent' >> "$dir/rootfs/etc/passwd"
touch "$dir/rootfs/.nginx-$stamp"
cat > "$dir/Dockerfile" <<'DOCKERFILE'
# imm's switching proxy: Debian's nginx and its libraries, nothing else.
# imm writes /etc/nginx/nginx.conf and the upstream list, and reloads it.
FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]
DOCKERFILE
echo "prepared the nginx proxy context in $dir"
