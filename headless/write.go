package headless

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// writeReport writes rep as json.Encoder with two-space indent does, byte
// for byte, but with the registry's plan and deletions written an image at
// a time, the plan's made as they are written (RegistryReport.planned):
// encoding/json builds a whole value in memory before writing it, and a
// dry run planning most of 100,000 images is tens of megabytes.
func writeReport(w io.Writer, rep Report) error {
	rr := rep.Registry
	if rr == nil || rr.plannedCount()+len(rr.Deleted) == 0 {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	// The report without the two lists, whose empty arrays mark where
	// they go: fields of the registry object sit at four spaces.
	short := *rr
	short.Plan, short.Deleted, short.planned = []ImageReport{}, []ImageReport{}, nil
	rep.Registry = &short
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	text := head.Bytes()
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, list := range []struct {
		key string
		n   int
		at  func(k int) ImageReport
	}{{"plan", rr.plannedCount(), rr.plannedAt}, {"deleted", len(rr.Deleted), func(k int) ImageReport { return rr.Deleted[k] }}} {
		mark := []byte("\n    \"" + list.key + "\": []")
		i := bytes.Index(text, mark)
		if i < 0 || bytes.Count(text, mark) != 1 {
			return fmt.Errorf("write report: no single place for %q", list.key)
		}
		bw.Write(text[:i+len(mark)-1]) // up to and with "["
		text = text[i+len(mark)-1:]    // from "]" on
		for k := range list.n {
			b, err := json.MarshalIndent(list.at(k), "      ", "  ")
			if err != nil {
				return err
			}
			bw.WriteString("\n      ")
			bw.Write(b)
			if k < list.n-1 {
				bw.WriteByte(',')
			}
		}
		if list.n > 0 {
			bw.WriteString("\n    ")
		}
	}
	bw.Write(text)
	return bw.Flush()
}
