// Package deploy holds no code: it is the deployment files for running
// helmupgradebot daily (crontab, systemd units, Kubernetes CronJobs and the
// Dockerfile of their image), and the tests that check them.
package deploy
