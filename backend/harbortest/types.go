package harbortest

import "time"

// The definitions of Harbor's swagger (api/v2.0/swagger.yaml) that the
// stand-in answers with, by their JSON names.

// Time is a swagger date-time as Harbor writes it: milliseconds and Z;
// Harbor's zero time is 0001-01-01T00:00:00.000Z.
type Time time.Time

// MarshalJSON writes t as Harbor does.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

// Project is swagger's Project.
type Project struct {
	ProjectID          int32             `json:"project_id"`
	OwnerID            int32             `json:"owner_id"`
	Name               string            `json:"name"`
	RegistryID         int64             `json:"registry_id"`
	CreationTime       Time              `json:"creation_time"`
	UpdateTime         Time              `json:"update_time"`
	Deleted            bool              `json:"deleted"`
	OwnerName          string            `json:"owner_name"`
	Togglable          bool              `json:"togglable"`
	CurrentUserRoleID  int               `json:"current_user_role_id"`
	CurrentUserRoleIDs []int32           `json:"current_user_role_ids"`
	RepoCount          int               `json:"repo_count"`
	Metadata           map[string]string `json:"metadata"` // ProjectMetadata: string values
}

// Repository is swagger's Repository.
type Repository struct {
	ID            int64  `json:"id"`
	ProjectID     int64  `json:"project_id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	ArtifactCount int64  `json:"artifact_count"`
	PullCount     int64  `json:"pull_count"`
	CreationTime  Time   `json:"creation_time"`
	UpdateTime    Time   `json:"update_time"`
}

// Artifact is swagger's Artifact.
type Artifact struct {
	ID                int64                   `json:"id"`
	Type              string                  `json:"type"`
	MediaType         string                  `json:"media_type"`
	ManifestMediaType string                  `json:"manifest_media_type"`
	ArtifactType      string                  `json:"artifact_type"`
	ProjectID         int64                   `json:"project_id"`
	RepositoryID      int64                   `json:"repository_id"`
	RepositoryName    string                  `json:"repository_name"`
	Digest            string                  `json:"digest"`
	Size              int64                   `json:"size"`
	Icon              string                  `json:"icon"`
	PushTime          Time                    `json:"push_time"`
	PullTime          Time                    `json:"pull_time"`
	ExtraAttrs        map[string]any          `json:"extra_attrs"`
	Annotations       map[string]string       `json:"annotations"`
	References        []Reference             `json:"references"`
	Tags              []Tag                   `json:"tags"`
	AdditionLinks     map[string]AdditionLink `json:"addition_links"`
	Labels            []any                   `json:"labels"`
	Accessories       []any                   `json:"accessories"`
}

// Reference is swagger's Reference: an index's child.
type Reference struct {
	ParentID    int64             `json:"parent_id"`
	ChildID     int64             `json:"child_id"`
	ChildDigest string            `json:"child_digest"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations"`
	URLs        []string          `json:"urls"`
}

// Platform is swagger's Platform.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// Tag is swagger's Tag.
type Tag struct {
	ID           int64  `json:"id"`
	RepositoryID int64  `json:"repository_id"`
	ArtifactID   int64  `json:"artifact_id"`
	Name         string `json:"name"`
	PushTime     Time   `json:"push_time"`
	PullTime     Time   `json:"pull_time"`
	Immutable    bool   `json:"immutable"`
}

// AdditionLink is swagger's AdditionLink.
type AdditionLink struct {
	Href     string `json:"href"`
	Absolute bool   `json:"absolute"`
}

// ImmutableRule is swagger's ImmutableRule.
type ImmutableRule struct {
	ID             int64                          `json:"id"`
	Priority       int                            `json:"priority"`
	Disabled       bool                           `json:"disabled"`
	Action         string                         `json:"action"`
	Template       string                         `json:"template"`
	Params         map[string]any                 `json:"params"`
	TagSelectors   []ImmutableSelector            `json:"tag_selectors"`
	ScopeSelectors map[string][]ImmutableSelector `json:"scope_selectors"`
}

// ImmutableSelector is swagger's ImmutableSelector (and, field for field,
// RetentionSelector).
type ImmutableSelector struct {
	Kind       string `json:"kind"`
	Decoration string `json:"decoration"`
	Pattern    string `json:"pattern"`
	Extras     string `json:"extras"`
}

// RetentionPolicy is swagger's RetentionPolicy.
type RetentionPolicy struct {
	ID        int64                `json:"id"`
	Algorithm string               `json:"algorithm"`
	Rules     []RetentionRule      `json:"rules"`
	Trigger   RetentionRuleTrigger `json:"trigger"`
	Scope     RetentionPolicyScope `json:"scope"`
}

// RetentionRule is swagger's RetentionRule: an ImmutableRule's fields
// (its action is retain, its template latestPushedK and the like).
type RetentionRule = ImmutableRule

// RetentionRuleTrigger is swagger's RetentionRuleTrigger.
type RetentionRuleTrigger struct {
	Kind       string         `json:"kind"`
	Settings   map[string]any `json:"settings"`
	References map[string]any `json:"references"`
}

// RetentionPolicyScope is swagger's RetentionPolicyScope.
type RetentionPolicyScope struct {
	Level string `json:"level"`
	Ref   int64  `json:"ref"`
}

// Permission is swagger's Permission.
type Permission struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

// Errors is swagger's Errors.
type Errors struct {
	Errors []Error `json:"errors"`
}

// Error is swagger's Error.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
