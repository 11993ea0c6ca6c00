package engine

import (
	"context"
	"strings"

	"github.com/helmupgradebot/helmupgradebot/backend/config"
	"github.com/helmupgradebot/helmupgradebot/backend/github"
)

// StatusIssues is what keeps the deployment repositories' status issues
// (github.status_issue): the GitHub client, and each distinct
// charts[].repository in the configuration's order.
type StatusIssues struct {
	GitHub       *github.Client
	Repositories []string
}

// StatusIssues is the configuration's status issues, with the chart
// engine's GitHub client; nil when github.status_issue is off (or c is
// nil).
func (c *Charts) StatusIssues() *StatusIssues {
	if c == nil {
		return nil
	}
	return c.statusIssues
}

// StatusIssues builds the status issues for a run that builds no chart
// engine (--only registry): it resolves the GitHub credentials. Nil when
// github.status_issue is off or no chart is configured.
func (b *Builder) StatusIssues(ctx context.Context) (*StatusIssues, error) {
	if !b.cfg.GitHub.StatusIssue || len(b.cfg.Charts) == 0 {
		return nil, nil
	}
	gh, err := b.GitHub(ctx)
	if err != nil {
		return nil, err
	}
	return statusIssues(b.cfg, gh), nil
}

// statusIssues is cfg's status issues kept with gh; nil when off.
func statusIssues(cfg *config.Config, gh *github.Client) *StatusIssues {
	if !cfg.GitHub.StatusIssue {
		return nil
	}
	out := &StatusIssues{GitHub: gh}
	seen := map[string]bool{}
	for _, c := range cfg.Charts {
		if k := strings.ToLower(c.Repository); !seen[k] {
			seen[k] = true
			out.Repositories = append(out.Repositories, c.Repository)
		}
	}
	return out
}
