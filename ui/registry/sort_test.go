package registry

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/internal/uitest"
)

func TestRegistrySort(t *testing.T) {
	d, _ := tabEnv(t, 80, 24)
	x := d.m.idx
	cases := []struct {
		key, header, column string
		ok                  func(a, b int) bool
	}{
		{"s", "sort: size (largest first)", "SIZE▼", func(a, b int) bool { return x.size[a] >= x.size[b] }},
		{"s", "sort: reclaimable (most reclaimable first)", "RECLAIM▼", func(a, b int) bool { return x.sizes.Exclusive[a] >= x.sizes.Exclusive[b] }},
		{"S", "sort: reclaimable (reversed)", "RECLAIM▲", func(a, b int) bool { return x.sizes.Exclusive[a] <= x.sizes.Exclusive[b] }},
		{"s", "sort: name (A→Z)", "REPOSITORY▼", func(a, b int) bool {
			return x.inv.Images[a].Repository <= x.inv.Images[b].Repository
		}},
		{"s", "sort: age (oldest first)", "AGE▼", func(a, b int) bool { return x.created[a] <= x.created[b] }},
		{"S", "sort: age (reversed)", "AGE▲", func(a, b int) bool { return x.created[a] >= x.created[b] }},
	}
	for _, c := range cases {
		d.Press(c.key)
		s := d.Screen()
		uitest.MustContain(t, s, c.header, c.column)
		for k := 1; k < len(x.order); k++ {
			if !c.ok(x.order[k-1], x.order[k]) {
				t.Fatalf("%s: images %d and %d out of order", c.header, x.order[k-1], x.order[k])
			}
		}
	}
}

func TestRegistrySortKeepsCursor(t *testing.T) {
	d, _ := tabEnv(t, 80, 24)
	d.Press("down", "down", "down")
	cur := d.m.Current()
	d.Press("s")
	if got := d.m.Current(); got != cur {
		t.Errorf("cursor moved from image %d to %d on re-sort", cur, got)
	}
	if !strings.HasPrefix(uitest.Line(d.Screen(), "›"), "›") {
		t.Error("cursor row is off screen after re-sort")
	}
}

func TestRegistryFilter(t *testing.T) {
	d, _ := tabEnv(t, 80, 24)
	d.Press("/")
	d.TypeText("numpy")
	s := d.Screen()
	uitest.MustContain(t, s, "/numpy")
	x := d.m.idx
	if len(x.view) == 0 || len(x.view) == len(x.inv.Images) {
		t.Fatalf("filter numpy kept %d of %d images", len(x.view), len(x.inv.Images))
	}
	for _, i := range x.view {
		if !strings.Contains(x.inv.Images[i].Repository, "numpy") {
			t.Errorf("filter numpy kept %s", x.inv.Images[i].Repository)
		}
	}
	for _, l := range strings.Split(s, "\n")[4:] {
		if strings.HasPrefix(l, " [") || strings.HasPrefix(l, "›[") {
			if !strings.Contains(l, "numpy") {
				t.Errorf("row without numpy: %q", l)
			}
		}
	}
	d.Press("enter")
	uitest.MustContain(t, d.Screen(), `filter "numpy": `+strconv.Itoa(len(x.view))+" of 120")
	// Keys act on the table again; esc drops the filter.
	d.Press("s")
	uitest.MustContain(t, d.Screen(), "sort: size", `filter "numpy"`)
	d.Press("esc")
	uitest.MustNotContain(t, d.Screen(), `filter "numpy"`)
	if len(d.m.idx.view) != 120 {
		t.Errorf("after esc %d images in view", len(d.m.idx.view))
	}
	// A tag matches too, and esc in the input drops it.
	tag := x.inv.Images[5].Tags[0][:10]
	d.Press("/")
	d.TypeText(tag)
	if v := d.m.idx.view; len(v) != 1 || v[0] != 5 {
		t.Errorf("filter by tag %s: %v", tag, v)
	}
	d.Press("esc")
	if len(d.m.idx.view) != 120 || d.m.filtering {
		t.Error("esc in the filter input did not drop the filter")
	}
}

func TestRegistryHeldCannotBeSelected(t *testing.T) {
	d, _ := tabEnv(t, 80, 24)
	d.Press("S", "g") // newest first: the kept-latest images come first
	r := d.m
	if h := r.idx.holds[r.Current()]; h != model.HoldKeep {
		t.Fatalf("newest image has hold %q", h)
	}
	uitest.MustContain(t, uitest.Line(d.Screen(), "›"), "[K]")
	d.Press("space")
	if r.nsel != 0 {
		t.Errorf("a held image was selected")
	}
	uitest.MustContain(t, d.m.c.Status.Text, "is held (keep-latest) and cannot be deleted")
}

func TestRegistryProtectedMark(t *testing.T) {
	reg := uitest.NewRegistry(uitest.GenInventory(60, 7, uitest.FixedNow), model.Policy{Protect: []*regexp.Regexp{regexp.MustCompile(`numpy`)}})
	d := newConsole(t, reg, 120, 70)
	d.Settle()
	x := d.m.idx
	for _, l := range strings.Split(d.Screen(), "\n") {
		if !strings.HasPrefix(l, " [") && !strings.HasPrefix(l, "›[") {
			continue
		}
		if strings.Contains(l, "numpy") != strings.Contains(l, "[P]") {
			t.Errorf("protected mark wrong: %q", l)
		}
	}
	// a (the policy plan: nothing, no age or cap) selects nothing; space on a
	// protected row refuses.
	for p, i := range x.view {
		if x.holds[i] == model.HoldProtected {
			d.m.Cursor = p
			break
		}
	}
	d.Press("space")
	if d.m.nsel != 0 {
		t.Error("protected image selected")
	}
	uitest.MustContain(t, d.Screen(), "is held (protected)")
}

func TestRegistrySelectAndGauge(t *testing.T) {
	d, reg := tabEnv(t, 80, 24)
	r := d.m
	total := r.idx.sizes.Total
	uitest.MustContain(t, d.Screen(), model.FormatBytes(total)+" of 15.0 GiB cap (120%, over cap)")
	d.Press("space", "space")
	if r.nsel != 2 {
		t.Fatalf("%d selected after two spaces", r.nsel)
	}
	want := reg.Plan(r.idx.inv, r.Selection(), false)
	s := d.Screen()
	uitest.MustContain(t, s, model.FormatBytes(total)+" → "+model.FormatBytes(want.TotalAfterBytes)+" of 15.0 GiB cap",
		"· frees "+model.FormatBytes(want.ReclaimBytes), "2 selected")
	bar := strings.Split(s, "\n")[1]
	if !strings.Contains(bar, "▒") || !strings.Contains(bar, "┃") {
		t.Errorf("gauge does not mark the freed part and the cap: %q", bar)
	}
	// Policy plan.
	d.Press("a")
	pol := reg.Plan(r.idx.inv, nil, false)
	if r.nsel != len(pol.Deletions) || !r.planPolicy {
		t.Fatalf("a selected %d, the policy plan has %d", r.nsel, len(pol.Deletions))
	}
	for _, del := range pol.Deletions {
		if !r.selected[del.Image] {
			t.Errorf("policy deletion %d not selected", del.Image)
		}
	}
	s = d.Screen()
	uitest.MustContain(t, s, strconv.Itoa(len(pol.Deletions))+" selected", "frees "+model.FormatBytes(pol.ReclaimBytes))
	// esc clears.
	d.Press("esc")
	if r.nsel != 0 {
		t.Error("esc left a selection")
	}
	uitest.MustNotContain(t, d.Screen(), "frees")
}

// TestRegistryLocks: a locked image says which lock holds it, on the info
// line and when it is picked; a repository whose deletes only are
// disabled holds nothing but is named on the info line.
func TestRegistryLocks(t *testing.T) {
	inv := uitest.GenInventory(60, 7, uitest.FixedNow)
	byRepo := map[string][]int{}
	for i := range inv.Images {
		byRepo[inv.Images[i].Repository] = append(byRepo[inv.Images[i].Repository], i)
	}
	var repos []string
	for repo := range byRepo {
		repos = append(repos, repo)
	}
	slices.Sort(repos)
	tagged, platform, written, deletable := byRepo[repos[0]][0], byRepo[repos[1]][0], repos[2], repos[3]
	inv.Images[tagged].Locked, inv.Images[tagged].Lock = true, "tag "+repos[0]+":stable"
	inv.Images[platform].Locked, inv.Images[platform].Lock = true, "platform linux/arm64"
	for _, i := range byRepo[written] {
		inv.Images[i].Locked, inv.Images[i].Lock = true, "repository"
	}
	inv.RepositoryLocks = []model.RepositoryLock{{Repository: written, WriteDisabled: true}, {Repository: deletable, DeleteDisabled: true}}
	unread := repos[4] // a headless run's snapshot read its locks only where it deleted
	inv.LocksUnread = []string{unread}
	d := newConsole(t, uitest.NewRegistry(inv, model.Policy{}), 240, 60)
	d.Settle()
	r := d.m
	at := func(i int) string {
		t.Helper()
		r.Cursor = r.idx.position(i)
		r.scroll()
		return uitest.Line(d.Screen(), "sort: ")
	}
	uitest.MustContain(t, at(tagged), "locked (tag "+repos[0]+":stable)")
	uitest.MustContain(t, uitest.Line(d.Screen(), "›"), "[L]")
	d.Press("space")
	if r.nsel != 0 {
		t.Error("a locked image was selected")
	}
	uitest.MustContain(t, d.m.c.Status.Text, "is locked (tag "+repos[0]+":stable) and cannot be deleted")
	uitest.MustContain(t, at(platform), "locked (platform linux/arm64)")
	uitest.MustContain(t, at(byRepo[written][0]), "locked (repository)")
	info := at(byRepo[deletable][0])
	uitest.MustContain(t, info, "repository "+deletable+": deletes disabled, its images can be deleted")
	if strings.Contains(info, "locked (") || r.idx.holds[byRepo[deletable][0]] == model.HoldLocked {
		t.Errorf("an image of a delete-disabled repository is held: %s", info)
	}
	uitest.MustContain(t, at(byRepo[unread][0]), "repository and tag locks not read")
	if info := at(tagged); strings.Contains(info, "not read") {
		t.Errorf("the locks of %s were read: %s", repos[0], info)
	}
}
