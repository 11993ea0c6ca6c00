package registry

import (
	"strconv"
	"strings"
	"time"

	"github.com/helmupgradebot/helmupgradebot/model"
	"github.com/helmupgradebot/helmupgradebot/ui/common"
	"github.com/helmupgradebot/helmupgradebot/ui/components/table"
)

// regTable is the Registry table's columns laid out for a width: the
// names keep their room; the launch columns shrink first, then the empty
// ones go, then LAST LAUNCH, LAUNCHES and SIZE, as the screen narrows.
// Where the registry records pulls (ECR) a PULLED column follows, and
// where it has sizes of its own their column (named as it names them,
// "ECR SIZE"), both gone first on a narrow screen.
type regTable struct {
	repo, tags, age, size, reclaim, launches, last, pulled, vendor table.Column
}

// markW is the gutter and the hold mark before the first column ("›[P]").
const markW = 4

// Room the name columns keep, and the most they want.
const (
	repoRoom, repoMost = 20, 48
	tagsRoom, tagsMost = 12, 40
)

func (x *imageIndex) layout(w int) *regTable {
	vw := x.widths()
	name := func(need, header, room, most int) table.Column {
		need = max(need, header)
		return table.Column{Want: min(need, most), Min: min(need, max(room, header)), Name: true}
	}
	t := &regTable{
		repo:    name(vw.repo, len("REPOSITORY")+1, repoRoom, repoMost),
		tags:    name(vw.tags, len("TAGS"), tagsRoom, tagsMost),
		age:     table.Column{Want: 5, Min: 5},
		size:    table.Column{Want: 8, Min: 8, Drop: 5},
		reclaim: table.Column{Want: 8, Min: 8},
	}
	cols := []*table.Column{&t.repo, &t.tags, &t.age, &t.size, &t.reclaim}
	t.launches.Hidden, t.last.Hidden = true, true
	if x.use != nil {
		// "LAUNCHES▼" or "LAUNCH▼"; "LAST LAUNCH▼" and "3h ago", or "LAST▼" and "3h".
		t.launches = table.Column{Want: 9, Min: 7, Drop: 4}
		t.last = table.Column{Want: 12, Min: 5, Drop: 3}
		if !vw.launched { // an empty column goes first
			t.launches.Drop = 2
		}
		if !vw.lastLaunched {
			t.last.Drop = 1
		}
		cols = append(cols, &t.launches, &t.last)
	}
	t.pulled.Hidden, t.vendor.Hidden = true, true
	if vw.pulled {
		t.pulled = table.Column{Want: 11, Min: 6, Drop: 6} // "PULLED" and "3d ago"
		cols = append(cols, &t.pulled)
	}
	if x.inv.VendorSizeName != "" {
		t.vendor = table.Column{Want: max(9, len(x.inv.VendorSizeName)), Min: 9, Drop: 7}
		cols = append(cols, &t.vendor)
	}
	table.Layout(w-markW-1, cols) // each cell starts with a space
	return t
}

// viewWidths is what the table's columns need for the images in view.
type viewWidths struct {
	repo, tags             int  // the longest repository, tag list
	launched, lastLaunched bool // some image in view was launched
	pulled                 bool // some image in view has a recorded pull
}

// widths measures the images in view, once per view.
func (x *imageIndex) widths() viewWidths {
	if x.widthsOK {
		return x.vw
	}
	var vw viewWidths
	for _, i := range x.view {
		im := &x.inv.Images[i]
		vw.repo = max(vw.repo, len(im.Repository)) // ASCII, by the OCI spec
		t := len("<untagged>")
		if len(im.Tags) > 0 {
			t = len(im.Tags) - 1
			for _, tag := range im.Tags {
				t += len(tag)
			}
		}
		vw.tags = max(vw.tags, t)
		vw.pulled = vw.pulled || !im.LastPulled.IsZero()
		if x.use != nil {
			u := x.use.Usage.Of(i)
			vw.launched = vw.launched || u.Launches > 0
			vw.lastLaunched = vw.lastLaunched || !u.LastLaunch.IsZero()
		}
	}
	x.vw, x.widthsOK = vw, true
	return vw
}

// header is the table's header line.
func (r *Model) header(t *regTable) string {
	x := r.idx
	arrow := func(k sortKey, s string) string {
		switch {
		case x.key != k:
			return s
		case x.reverse:
			return s + "▲"
		}
		return s + "▼"
	}
	launches, last := "LAUNCHES", "LAST LAUNCH"
	if t.launches.Shrunk() {
		launches = "LAUNCH"
	}
	if t.last.Shrunk() {
		last = "LAST"
	}
	return strings.Repeat(" ", markW) + t.repo.Cell(arrow(sortName, "REPOSITORY"), false) + t.tags.Cell("TAGS", false) +
		t.age.Cell(arrow(sortAge, "AGE"), true) + t.size.Cell(arrow(sortSize, "SIZE"), true) +
		t.reclaim.Cell(arrow(sortReclaim, "RECLAIM"), true) +
		t.launches.Cell(arrow(sortLaunches, launches), true) + t.last.Cell(arrow(sortLastLaunch, last), true) +
		t.pulled.Cell("PULLED", true) + t.vendor.Cell(strings.ToUpper(x.inv.VendorSizeName), true)
}

// registryCells are image i's PULLED and vendor size cells ("" when their
// columns are hidden).
func (t *regTable) registryCells(im *model.Image, now time.Time) string {
	pulled, vendor := "-", "-"
	if !im.LastPulled.IsZero() {
		pulled = model.FormatAge(max(now.Sub(im.LastPulled), 0)) + " ago"
	}
	if im.VendorSize > 0 {
		vendor = model.FormatBytes(im.VendorSize)
	}
	return t.pulled.Cell(pulled, true) + t.vendor.Cell(vendor, true)
}

// row is image i's line, without the gutter and mark.
func (r *Model) row(t *regTable, i int) string {
	x := r.idx
	im := &x.inv.Images[i]
	tags := "<untagged>"
	if len(im.Tags) > 0 {
		tags = strings.Join(im.Tags, ",")
	}
	now := r.c.Now()
	age := "?"
	if a := x.age(i, now); a >= 0 {
		age = model.FormatAge(a)
	}
	line := t.repo.Cell(im.Repository, false) + t.tags.Cell(tags, false) + t.age.Cell(age, true) +
		t.size.Cell(model.FormatBytes(x.size[i]), true) + t.reclaim.Cell(model.FormatBytes(x.sizes.Exclusive[i]), true)
	if x.use == nil {
		return line + t.registryCells(im, now)
	}
	u := x.use.Usage.Of(i)
	n, last := "-", "-"
	if u.Launches > 0 {
		n = strconv.Itoa(u.Launches)
	}
	if !u.LastLaunch.IsZero() {
		last = model.FormatAge(max(now.Sub(u.LastLaunch), 0))
		if !t.last.Shrunk() {
			last += " ago"
		}
	}
	return line + t.launches.Cell(n, true) + t.last.Cell(last, true) + t.registryCells(im, now)
}

func (r *Model) table(w, h int) string {
	st := r.c.Styles
	x := r.idx
	t := x.layout(w)
	var b strings.Builder
	b.WriteString(st.TableHeader.Render(common.Fit(r.header(t), w)))
	if len(x.view) == 0 {
		b.WriteString("\n" + st.Muted.Render(common.Fit("no images match", w)))
		return common.Block(b.String(), w, h)
	}
	end := min(r.Offset+h-1, len(x.view))
	for p := r.Offset; p < end; p++ {
		i := x.view[p]
		mark := holdMark(x.holds[i])
		if r.selected[i] {
			mark = "[x]"
		}
		gutter := " "
		if p == r.Cursor {
			gutter = "›"
		}
		line := common.Fit(gutter+mark+r.row(t, i), w)
		switch {
		case p == r.Cursor:
			line = st.Cursor.Render(line)
		case r.selected[i]:
			line = st.Selected.Render(line)
		case x.holds[i] != model.HoldNone:
			line = st.Held.Render(line)
		}
		b.WriteString("\n" + line)
	}
	return common.Block(b.String(), w, h)
}
