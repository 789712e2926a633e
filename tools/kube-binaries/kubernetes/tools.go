//go:build tools

// Package tools pins the Kubernetes commands this module builds: the control plane the
// integration tests start (kube-apiserver, kubectl) and the rest of a single-node cluster the
// e2e tier starts (hack/cluster-binaries.sh).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
