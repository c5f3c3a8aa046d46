"""The kubeops.runbook lab: a binary-installed Kubernetes cluster on one machine (systemd-nspawn nodes)."""
