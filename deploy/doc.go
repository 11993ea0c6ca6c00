// Package deploy holds no code: it is the deployment files for running
// helmupgradebot daily (crontab, systemd units, Kubernetes CronJobs, a Helm
// chart, and the Dockerfile of their image), and the tests that check them.
// The chart is rendered in the tests with Helm's own loader and engine
// (helm.sh/helm/v4, a test-only dependency).
package deploy
