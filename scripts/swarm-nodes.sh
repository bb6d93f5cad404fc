#!/usr/bin/env bash
# Several Docker Engines on this machine, each in a network namespace of its
# own on a private bridge, joined into one Swarm whose nodes are all
# managers. The tests of multi-node engines use it; it needs root, dockerd,
# iproute2 and util-linux. Nothing of it is reachable from the host's
# network: the addresses exist only inside the namespaces it makes.
#
#   swarm-nodes.sh up    DIR NAME SUBNET N   start N nodes, form the swarm
#   swarm-nodes.sh registry DIR NAME I PORT  a registry (Debian's docker-registry) in node I's
#                                            namespace at its address:PORT, plain HTTP (every
#                                            node lists SUBNET.0/24 in insecure-registries)
#   swarm-nodes.sh sshd  DIR NAME I          sshd in node I's namespace at its address:22; root
#                                            logs in with DIR/ssh/id and lands on node I's engine;
#                                            DIR/ssh/bin/ssh is an ssh that uses only DIR/ssh/config
#   swarm-nodes.sh kill  DIR NAME I          SIGKILL node I's dockerd (a lost machine)
#   swarm-nodes.sh down  DIR NAME            kill every process of every node, remove all
#
# DIR holds each node's files (node I: DIR/nI/docker.sock is its endpoint,
# and tcp://SUBNET.(10+I):2376 with mutual TLS, client files in DIR/tls:
# ca.pem, cert.pem, key.pem); the hub namespace NAME-hub is SUBNET.1, a
# machine on the nodes' network for a client (`nsenter --net=/run/netns/NAME-hub`);
# NAME prefixes the namespaces and cgroups (short: interface names are too);
# SUBNET is three octets (node I gets SUBNET.(10+I)).
set -euo pipefail

say() { echo "[swarm-nodes] $*" >&2; }
cli() { local i=$1; shift; DOCKER_HOST="unix://$DIR/n$i/docker.sock" docker "$@"; }

launch_node() {
  local i=$1 home=$DIR/n$1 ns=$NAME-n$1
  mkdir -p "$home/cgroup"
  # Every path, namespace and cgroup of its own, so that it shares nothing
  # with the host's daemon or the other nodes.
  cat >"$home/daemon.json" <<JSON
{ "data-root": "$home/data", "exec-root": "$home/exec", "pidfile": "$home/dockerd.pid",
  "hosts": ["unix://$home/docker.sock", "tcp://$SUBNET.$((10 + i)):2376"],
  "tls": true, "tlsverify": true, "tlscacert": "$DIR/tls/ca.pem",
  "tlscert": "$DIR/tls/server.pem", "tlskey": "$DIR/tls/server-key.pem",
  "storage-driver": "overlay2",
  "containerd-namespace": "$ns", "containerd-plugins-namespace": "$ns-p",
  "cgroup-parent": "$ns", "log-driver": "json-file",
  "insecure-registries": ["$SUBNET.0/24"] }
JSON
  # `ip netns exec` would mount a sysfs over the cgroup hierarchies dockerd
  # needs; instead: join the network namespace, take private mount and UTS
  # namespaces, mount a sysfs for this namespace and put the cgroups back.
  setsid nsenter --net="/run/netns/$ns" -- unshare --mount --uts --propagation slave sh -c "
    mount --rbind /sys/fs/cgroup $home/cgroup && umount -l /sys &&
    mount -t sysfs sysfs /sys && mount --rbind $home/cgroup /sys/fs/cgroup &&
    umount -l $home/cgroup && hostname n$i && exec dockerd --config-file $home/daemon.json" \
    >"$home/dockerd.log" 2>&1 </dev/null &
  local tries=0
  until cli "$i" version >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ $tries -gt 300 ]; then
      say "node $i did not start; its log:"; tail -20 "$home/dockerd.log" >&2; return 1
    fi
    sleep 0.2
  done
}

# A CA, one server certificate for every node's address and one client
# certificate (EC keys: quick to make).
make_certificates() {
  local n=$1 tls=$DIR/tls sans="IP:127.0.0.1"
  for i in $(seq 1 "$n"); do sans="$sans,IP:$SUBNET.$((10 + i))"; done
  mkdir -p "$tls"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" -days 2 \
    -subj /CN=imm-test-ca 2>/dev/null
  openssl req "${ec[@]}" -keyout "$tls/server-key.pem" -out "$tls/server.csr" -subj /CN=node 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans" >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
    -CAcreateserial -out "$tls/server.pem" -days 2 -extfile "$tls/server.ext" 2>/dev/null
  openssl req "${ec[@]}" -keyout "$tls/key.pem" -out "$tls/client.csr" -subj /CN=imm 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$tls/client.ext"
  openssl x509 -req -in "$tls/client.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
    -CAcreateserial -out "$tls/cert.pem" -days 2 -extfile "$tls/client.ext" 2>/dev/null
}

up() {
  local n=$1
  [ -e "$DIR/nodes" ] && { say "$DIR is in use; run down first"; return 1; }
  mkdir -p "$DIR"; echo "$n" >"$DIR/nodes"; echo "$SUBNET" >"$DIR/subnet"
  ip netns add "$NAME-hub"
  ip -n "$NAME-hub" link add br0 type bridge
  ip -n "$NAME-hub" link set br0 up
  ip -n "$NAME-hub" addr add "$SUBNET.1/24" dev br0
  ip -n "$NAME-hub" link set lo up
  make_certificates "$n"
  for i in $(seq 1 "$n"); do
    ip netns add "$NAME-n$i"
    ip link add "$NAME-v$i" type veth peer name eth0 netns "$NAME-n$i"
    ip link set "$NAME-v$i" netns "$NAME-hub"
    ip -n "$NAME-hub" link set "$NAME-v$i" master br0 up
    ip -n "$NAME-n$i" addr add "$SUBNET.$((10 + i))/24" dev eth0
    ip -n "$NAME-n$i" link set eth0 up
    ip -n "$NAME-n$i" link set lo up
  done
  for i in $(seq 1 "$n"); do launch_node "$i" & done
  wait
  cli 1 swarm init --advertise-addr "$SUBNET.11" --listen-addr "$SUBNET.11:2377" \
    --dispatcher-heartbeat 1s >/dev/null
  local token; token=$(cli 1 swarm join-token -q manager)
  for i in $(seq 2 "$n"); do
    cli "$i" swarm join --token "$token" --advertise-addr "$SUBNET.$((10 + i))" \
      --listen-addr "$SUBNET.$((10 + i)):2377" "$SUBNET.11:2377" >/dev/null
  done
  until [ "$(cli 1 node ls --format '{{.Status}}' | grep -c Ready)" = "$n" ]; do sleep 0.2; done
  say "swarm of $n managers ready"
}

# Every process of node i: its dockerd, and what outlives a killed dockerd
# (its containerd, shims and task processes), found by the node's network
# namespace, its directory on the command line, or its cgroup.
node_pids() {
  local i=$1
  {
    ip netns pids "$NAME-n$i" 2>/dev/null || true
    for p in /proc/[0-9]*; do
      if grep -qs -- "$DIR/n$i/" "$p/cmdline" || grep -qs -- "/$NAME-n$i/" "$p/cgroup"; then
        echo "${p#/proc/}"
      fi
    done
  } | sort -u
}

start_registry() {
  local i=$1 port=$2 home=$DIR/registry subnet
  subnet=$(cat "$DIR/subnet")
  local address="$subnet.$((10 + i)):$port"
  mkdir -p "$home/data"
  cat >"$home/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $home/data
http:
  addr: $address
YML
  setsid nsenter --net="/run/netns/$NAME-n$i" -- docker-registry serve "$home/config.yml" \
    >"$home/registry.log" 2>&1 </dev/null &
  local tries=0
  until nsenter --net="/run/netns/$NAME-n$i" -- bash -c "exec 3<>/dev/tcp/${address%:*}/$port" 2>/dev/null; do
    tries=$((tries + 1))
    if [ $tries -gt 100 ]; then
      say "the registry did not start; its log:"; tail -20 "$home/registry.log" >&2; return 1
    fi
    sleep 0.1
  done
  say "registry at $address"
}

start_sshd() {
  local i=$1 home=$DIR/ssh subnet
  subnet=$(cat "$DIR/subnet")
  local address="$subnet.$((10 + i))"
  mkdir -p "$home/bin" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -f "$home/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$home/id"
  cp "$home/id.pub" "$home/authorized_keys"
  cat >"$home/sshd_config" <<CONF
ListenAddress $address:22
HostKey $home/host_key
AuthorizedKeysFile $home/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile $home/sshd.pid
SetEnv DOCKER_HOST=unix://$DIR/n$i/docker.sock
CONF
  cat >"$home/config" <<CONF
Host *
  IdentityFile $home/id
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
CONF
  printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$home/config" >"$home/bin/ssh"
  chmod +x "$home/bin/ssh"
  nsenter --net="/run/netns/$NAME-n$i" -- /usr/sbin/sshd -f "$home/sshd_config" -E "$home/sshd.log"
  say "sshd at $address:22"
}

kill_node() {
  kill -KILL "$(cat "$DIR/n$1/dockerd.pid")"
  say "node $1's dockerd killed"
}

down() {
  local n; n=$(cat "$DIR/nodes" 2>/dev/null || echo 0)
  # Several passes: a containerd killed a moment late may have started a
  # task (a shim and its processes) after the first pass looked.
  local pass found
  for pass in 1 2 3 4 5; do
    found=
    for i in $(seq 1 "$n"); do
      for p in $(node_pids "$i"); do
        [ "$p" != "$$" ] && kill -KILL "$p" 2>/dev/null && found=1
      done
    done
    [ -z "$found" ] && break
    sleep 0.3
  done
  # Clients started on the nodes' network (ssh masters left by a client).
  for p in $(ip netns pids "$NAME-hub" 2>/dev/null || true); do kill -KILL "$p" 2>/dev/null || true; done
  sleep 0.3
  for i in $(seq 1 "$n"); do
    ip netns del "$NAME-n$i" 2>/dev/null || true
    for cg in /sys/fs/cgroup/*/"$NAME-n$i" /sys/fs/cgroup/"$NAME-n$i"; do
      [ -d "$cg" ] && { find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true; }
    done
  done
  ip netns del "$NAME-hub" 2>/dev/null || true
  { grep -o " $DIR/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$DIR"
}

command=${1:-}
DIR=${2:?directory}
NAME=${3:?name}
case "$command" in
  up) SUBNET=${4:?subnet}; up "${5:-3}" ;;
  registry) start_registry "${4:?node}" "${5:?port}" ;;
  sshd) start_sshd "${4:?node}" ;;
  kill) kill_node "${4:?node}" ;;
  down) down ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
