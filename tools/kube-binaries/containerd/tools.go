//go:build tools

// Package tools pins the containerd commands the e2e tier's node runs (hack/cluster-binaries.sh):
// the daemon, its runc shim and the ctr client that imports the operator's image.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
