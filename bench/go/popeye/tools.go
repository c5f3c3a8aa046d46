//go:build tools

// Package tools pins the popeye command, so that `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/derailed/popeye"
