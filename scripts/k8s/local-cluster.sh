#!/usr/bin/env bash
# A real single-node Kubernetes from upstream binaries, for machines where no container engine can
# run kind nodes (CI here). What `hack/local-up-cluster.sh` does in Kubernetes itself, plus what a
# kind cluster ships: CoreDNS, a default StorageClass (local-path-provisioner), NetworkPolicy
# enforcement (kube-router's firewall), and restricted Pod Security as the default of every
# namespace but the system ones.
#   scripts/k8s/local-cluster.sh up       start it (idempotent; ~20 s once the tools are built)
#   scripts/k8s/local-cluster.sh down     stop every process, remove every pod, mount, iptables
#                                         chain and ipset it made, restore the sysctls it changed
#   scripts/k8s/local-cluster.sh status   exit 0 when the API server answers
#   scripts/k8s/local-cluster.sh load REF...   import images from podman into the node
# Needs root (it runs the node). The kubeconfig is $CLUSTER_DIR/kubeconfig, context phonicflow-local.
# Every daemon is started here, its PID recorded and stopped by that PID: no systemd.
set -euo pipefail
cd "$(dirname "$0")"
source ./versions.sh

NODE_NAME=phonicflow
POD_CIDR=10.244.0.0/16
NODE_POD_CIDR=10.244.0.0/24 # one node: the bridge's host-local range is the node's podCIDR
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
API_PORT=${PHONICFLOW_API_PORT:-6443}
ETCD_PORT=${PHONICFLOW_ETCD_PORT:-2379}
BRIDGE=pfbr0
CONTEXT=phonicflow-local
# containerd's image store outlives the cluster, so a second `up` finds every image imported
CONTAINERD_ROOT="$CACHE/containerd-root"
SOCK="$CLUSTER_DIR/run/containerd.sock"
PKI="$CLUSTER_DIR/pki"
LOGS="$CLUSTER_DIR/logs"
PIDS="$CLUSTER_DIR/pids"
DAEMONS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router local-path-provisioner)
SYSTEM_IMAGES=("registry.k8s.io/pause:$PAUSE_VERSION" "phonicflow.local/coredns:$COREDNS_VERSION"
  "docker.io/library/debian:bookworm-slim")

say() { printf '\033[1m[local-cluster]\033[0m %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
kubectl_() { "$TOOLS_BIN/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" "$@"; }
crictl_() { "$TOOLS_BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" "$@"; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

node_ip() {
  local ip
  ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
  [ -n "$ip" ] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$ip" ] || die "no IPv4 address to give the node"
  echo "$ip"
}

# --- processes ------------------------------------------------------------------------------
start() { # name argv...: start a daemon in its own session, record its PID
  local name=$1; shift
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
}
# a recorded PID counts only while it is still that daemon (after a reboot PIDs are reused)
pid_of() { local pid; pid=$(cat "$PIDS/$1" 2>/dev/null) && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$1" && echo "$pid"; }
running() { pid_of "$1" >/dev/null; }
stop() { # name: SIGTERM, then SIGKILL after 15 s
  local name=$1 pid i
  if pid=$(pid_of "$name"); then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$name did not stop on SIGTERM: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -f "$PIDS/$name"
}
wait_for() { # seconds description command...: poll until the command succeeds
  local seconds=$1 what=$2 deadline; shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what not ready after ${seconds}s (logs: $LOGS)"
    sleep 0.5
  done
}

# --- certificates: one CA, a serving certificate for the API server, a client one per component ---
cert() { # name CN O [SAN list]: EC P-256 key and a certificate signed by the CA
  local name=$1 cn=$2 org=$3 san=${4:-} subj="/CN=$2" ext
  [ -n "$org" ] && subj="/O=$org/CN=$cn"
  ext=$(mktemp)
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext" "$PKI/$name.csr"
}
kubeconfig() { # file user certname
  local file=$1 user=$2 name=$3
  "$TOOLS_BIN/kubectl" config --kubeconfig "$file" set-cluster "$CONTEXT" --server "https://127.0.0.1:$API_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  "$TOOLS_BIN/kubectl" config --kubeconfig "$file" set-credentials "$user" \
    --client-certificate "$PKI/$name.crt" --client-key "$PKI/$name.key" --embed-certs >/dev/null
  "$TOOLS_BIN/kubectl" config --kubeconfig "$file" set-context "$CONTEXT" --cluster "$CONTEXT" --user "$user" >/dev/null
  "$TOOLS_BIN/kubectl" config --kubeconfig "$file" use-context "$CONTEXT" >/dev/null
  chmod 600 "$file"
}
make_pki() {
  local ip=$1
  mkdir -p "$PKI"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=phonicflow-local-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  cert apiserver kube-apiserver "" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$ip,IP:$API_SERVICE_IP"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin kubernetes-admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE_NAME" system:nodes
  cert kube-proxy system:kube-proxy ""
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  kubeconfig "$CLUSTER_DIR/kubeconfig" kubernetes-admin admin
  kubeconfig "$CLUSTER_DIR/controller-manager.conf" system:kube-controller-manager controller-manager
  kubeconfig "$CLUSTER_DIR/scheduler.conf" system:kube-scheduler scheduler
  kubeconfig "$CLUSTER_DIR/kubelet.conf" "system:node:$NODE_NAME" kubelet
  kubeconfig "$CLUSTER_DIR/kube-proxy.conf" system:kube-proxy kube-proxy
}

# --- configuration files ----------------------------------------------------------------------
write_configs() {
  local ip=$1
  mkdir -p "$CLUSTER_DIR/cni/net.d" "$CLUSTER_DIR/cni/ipam" "$CLUSTER_DIR/storage" "$CONTAINERD_ROOT"
  cat >"$CLUSTER_DIR/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CLUSTER_DIR/run/containerd"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:$PAUSE_VERSION"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the caller's, so the
  # CRI must not ask it to (otherwise every sandbox fails with "can't get final child's PID")
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_DIR/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
EOF
  # The bridge enforces nothing itself: kube-router's firewall does, in the FORWARD chain, which
  # bridged pod-to-pod traffic passes because bridge-nf-call-iptables is on
  cat >"$CLUSTER_DIR/cni/net.d/10-phonicflow.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "phonicflow",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
               "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$CLUSTER_DIR/cni/ipam"}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"$CLUSTER_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
# these machines have cgroup v1 only; kubelet 1.34 still runs on it when told to
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# the disk is shared with other work: evict only when it is really full
evictionHard: {memory.available: 200Mi, nodefs.available: 3%, imagefs.available: 3%, nodefs.inodesFree: 3%}
imageGCHighThresholdPercent: 97
imageGCLowThresholdPercent: 95
healthzBindAddress: 127.0.0.1
healthzPort: 10248
rotateCertificates: false
serverTLSBootstrap: false
EOF
  cat >"$CLUSTER_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CLUSTER_DIR/kube-proxy.conf}
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
mode: iptables
# leave the host's conntrack sysctls alone: the machine is shared
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF
  # restricted by default everywhere; the system namespaces run CoreDNS and volume helpers
  cat >"$CLUSTER_DIR/admission.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults: {enforce: restricted, enforce-version: latest, audit: restricted, warn: restricted}
      exemptions:
        namespaces: [kube-system, local-path-storage]
EOF
  cat >"$CLUSTER_DIR/local-path.json" <<EOF
{"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["$CLUSTER_DIR/storage"]}]}
EOF
}

# --- sysctls: kubelet changes three it cannot be told not to; put them back on `down` ----------
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)
save_sysctls() {
  [ -s "$CACHE/sysctl.saved" ] && return 0 # saved by an earlier `up` that was never taken down
  for key in "${SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$CACHE/sysctl.saved"
}
restore_sysctls() {
  [ -s "$CACHE/sysctl.saved" ] || return 0
  while IFS== read -r key value; do sysctl -qw "$key=$value" || true; done <"$CACHE/sysctl.saved"
  rm -f "$CACHE/sysctl.saved"
}

# --- images ----------------------------------------------------------------------------------
podman_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null; }
node_id() { crictl_ inspecti -o go-template --template '{{.status.id}}' "$1" 2>/dev/null | sed 's/^sha256://'; }
load_images() { # refs...: import each podman image the node does not have in exactly this build
  local ref id start existing
  for ref in "$@"; do
    id=$(podman_id "$ref") || die "podman has no image $ref (build it first: make images)"
    [ "$(node_id "$ref")" = "$id" ] && continue
    # the same build under another name (a second tag): a new name for it, no second import
    existing=$(crictl_ inspecti -o go-template --template '{{range .status.repoTags}}{{.}} {{end}}' "sha256:$id" 2>/dev/null | awk '{print $1}' || true)
    if [ -n "$existing" ]; then ctr_ images tag --force "$existing" "$ref" >/dev/null && continue; fi
    say "importing $ref into the node"
    start=$SECONDS
    podman save --format docker-archive "$ref" | ctr_ images import --no-unpack=false - >/dev/null
    say "imported $ref in $((SECONDS - start)) s"
  done
}
build_system_images() {
  local ctx
  if ! podman_id "registry.k8s.io/pause:$PAUSE_VERSION" >/dev/null; then
    ctx=$(mktemp -d); cp "$TOOLS_BIN/pause" "$ctx/"
    printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
    podman build -q -t "registry.k8s.io/pause:$PAUSE_VERSION" "$ctx" >/dev/null; rm -rf "$ctx"
  fi
  if ! podman_id "phonicflow.local/coredns:$COREDNS_VERSION" >/dev/null; then
    ctx=$(mktemp -d); cp "$TOOLS_BIN/coredns" "$ctx/"
    printf 'FROM scratch\nCOPY coredns /coredns\nUSER 65532:65532\nENTRYPOINT ["/coredns"]\n' >"$ctx/Containerfile"
    podman build -q -t "phonicflow.local/coredns:$COREDNS_VERSION" "$ctx" >/dev/null; rm -rf "$ctx"
  fi
  # local-path-provisioner's helper pods only need a shell, mkdir and rm: the project's base image
  podman_id docker.io/library/debian:bookworm-slim >/dev/null || ./podman-setup.sh
}

# --- up --------------------------------------------------------------------------------------
api_ready() { curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "https://127.0.0.1:$API_PORT/readyz" >/dev/null; }

status() {
  [ -s "$CLUSTER_DIR/kubeconfig" ] && running kube-apiserver && api_ready
}

up() {
  [ "$(id -u)" = 0 ] || die "the local cluster runs a kubelet: run as root"
  local daemon all=1
  for daemon in "${DAEMONS[@]}"; do running "$daemon" || all=0; done
  if ((all)) && status; then
    say "already running (KUBECONFIG=$CLUSTER_DIR/kubeconfig)"
    return 0
  fi
  [ -d "$CLUSTER_DIR" ] && { say "cleaning up what an earlier cluster left"; down; }
  local start=$SECONDS ip
  ./cluster-tools.sh >/dev/null
  ip=$(node_ip)
  mkdir -p "$LOGS" "$PIDS" "$CLUSTER_DIR/run"
  save_sysctls
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  make_pki "$ip"
  write_configs "$ip"

  start containerd containerd --config "$CLUSTER_DIR/containerd.toml"
  start etcd etcd --name "$NODE_NAME" --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) --initial-advertise-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:$((ETCD_PORT + 1))" --listen-metrics-urls "" \
    --quota-backend-bytes 2147483648
  wait_for 30 containerd crictl_ version
  build_system_images
  load_images "${SYSTEM_IMAGES[@]}"
  wait_for 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$TOOLS_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" --bind-address 0.0.0.0 --advertise-address "$ip" \
    --secure-port "$API_PORT" --service-cluster-ip-range "$SERVICE_CIDR" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction --admission-control-config-file "$CLUSTER_DIR/admission.yaml" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --allow-privileged=true --profiling=false --endpoint-reconciler-type lease
  wait_for 90 kube-apiserver api_ready

  start kube-controller-manager "$TOOLS_BIN/kube-controller-manager" \
    --kubeconfig "$CLUSTER_DIR/controller-manager.conf" --authentication-kubeconfig "$CLUSTER_DIR/controller-manager.conf" \
    --authorization-kubeconfig "$CLUSTER_DIR/controller-manager.conf" --bind-address 127.0.0.1 \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 --service-cluster-ip-range "$SERVICE_CIDR" \
    --leader-elect=false --profiling=false --controllers '*,-cloud-node-lifecycle'
  start kube-scheduler "$TOOLS_BIN/kube-scheduler" --kubeconfig "$CLUSTER_DIR/scheduler.conf" \
    --authentication-kubeconfig "$CLUSTER_DIR/scheduler.conf" --authorization-kubeconfig "$CLUSTER_DIR/scheduler.conf" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
  start kubelet "$TOOLS_BIN/kubelet" --config "$CLUSTER_DIR/kubelet.yaml" --kubeconfig "$CLUSTER_DIR/kubelet.conf" \
    --root-dir "$CLUSTER_DIR/kubelet" --cert-dir "$PKI/kubelet-serving" --hostname-override "$NODE_NAME" \
    --node-ip "$ip" --node-labels "phonicflow.dev/local-cluster=true"
  start kube-proxy "$TOOLS_BIN/kube-proxy" --config "$CLUSTER_DIR/kube-proxy.yaml"
  sed "s|/var/local-path-provisioner|$CLUSTER_DIR/storage|" cluster-addons.yaml | kubectl_ apply -f - >/dev/null
  start local-path-provisioner "$TOOLS_BIN/local-path-provisioner" --debug start \
    --kubeconfig "$CLUSTER_DIR/kubeconfig" --namespace local-path-storage \
    --config "$CLUSTER_DIR/local-path.json" --configmap-name local-path-config \
    --helper-image docker.io/library/debian:bookworm-slim \
    --service-account-name local-path-provisioner
  wait_for 120 "the node" kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  # the firewall alone (it needs the Node object, so after registration): routing is the bridge's, Services are kube-proxy's
  start kube-router "$TOOLS_BIN/kube-router" --kubeconfig "$CLUSTER_DIR/kubeconfig" \
    --hostname-override "$NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --enable-ipv4=true --enable-ipv6=false --metrics-port 0 --health-port 20244 \
    --iptables-sync-period 1m --service-cluster-ip-range "$SERVICE_CIDR"
  wait_for 60 kube-router curl -fsS http://127.0.0.1:20244/healthz
  wait_for 120 CoreDNS kubectl_ -n kube-system wait --for=condition=Available deploy/coredns --timeout=2s
  say "up in $((SECONDS - start)) s: export KUBECONFIG=$CLUSTER_DIR/kubeconfig (context $CONTEXT)"
}

# --- down ------------------------------------------------------------------------------------
remove_iptables_chains() { # every KUBE-* chain (kube-proxy, kubelet, kube-router) and the jumps to them
  local ipt table rule chain
  for ipt in iptables ip6tables; do
    for table in filter nat mangle raw; do
      "$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z_]+ .*-j KUBE-' | grep -vE '^-A KUBE-' |
        while read -r rule; do eval "$ipt -t $table ${rule/-A/-D}" 2>/dev/null || true; done || true
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt" -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router|inet6:KUBE-|inet6:kube-router)' |
    while read -r set; do ipset destroy "$set" 2>/dev/null || true; done || true
}

down() {
  [ "$(id -u)" = 0 ] || die "run as root"
  [ -d "$CLUSTER_DIR" ] || { restore_sysctls; return 0; }
  local start=$SECONDS name
  mkdir -p "$PIDS"
  stop kubelet
  # the kubelet is gone: stop and remove every pod ourselves, which tears down their networks
  # (after a crash containerd is started again for that, or the pods' processes would stay)
  if ! running containerd && [ -s "$CLUSTER_DIR/containerd.toml" ]; then
    start containerd containerd --config "$CLUSTER_DIR/containerd.toml"
    for _ in $(seq 60); do crictl_ version >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if running containerd; then
    crictl_ stopp $(crictl_ pods -q 2>/dev/null) >/dev/null 2>&1 || true
    crictl_ rmp -fa >/dev/null 2>&1 || true
  fi
  for name in local-path-provisioner kube-router kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do
    stop "$name"
  done
  remove_iptables_chains
  ip link delete "$BRIDGE" 2>/dev/null || true
  # pod volumes (secret tmpfs, bind mounts) and containerd's shm mounts live under CLUSTER_DIR
  findmnt -rn -o TARGET | grep -F "$CLUSTER_DIR/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  if findmnt -rn -o TARGET | grep -qF "$CLUSTER_DIR/"; then
    die "mounts under $CLUSTER_DIR remain; not deleting it: $(findmnt -rn -o TARGET | grep -F "$CLUSTER_DIR/" | head -3)"
  fi
  restore_sysctls
  rm -rf "$CLUSTER_DIR"
  say "down in $((SECONDS - start)) s"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  load) shift; load_images "$@" ;;
  *) echo "usage: $0 up|down|status|load IMAGE..." >&2; exit 2 ;;
esac
