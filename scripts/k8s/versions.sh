# Versions and cache locations of the local cluster (sourced by the scripts in this folder).
# Kubernetes stays on 1.34: kubelet >= 1.35 refuses cgroup v1, which these machines have.
K8S_VERSION=${K8S_VERSION:-v1.34.4}
PAUSE_VERSION=3.10.1 # kubelet 1.34's default sandbox image
CRICTL_VERSION=v1.34.0
COREDNS_VERSION=v1.12.1 # what kubeadm 1.34 deploys
KUBE_ROUTER_VERSION=v2.1.0
LOCAL_PATH_VERSION=v0.0.30

# Outside the repository, so a fresh clone (CI) on the same machine starts warm.
CACHE=${PHONICFLOW_CACHE:-$HOME/.cache/phonicflow}
TOOLS_BIN="$CACHE/tools/bin"
# the running cluster: certificates, kubeconfig, logs, pids, etcd and kubelet state
CLUSTER_DIR=${PHONICFLOW_CLUSTER_DIR:-$CACHE/cluster}
export KIND_CLUSTER_NAME=${KIND_CLUSTER_NAME:-phonicflow}
# skaffold (scripts/k8s/skaffold-tool.sh): the newest v2 the Go module proxy serves here
SKAFFOLD_VERSION=${SKAFFOLD_VERSION:-v2.16.1}
