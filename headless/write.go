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
// a time: encoding/json builds a whole value in memory before writing it,
// and a dry run planning most of 100,000 images is tens of megabytes.
func writeReport(w io.Writer, rep Report) error {
	rr := rep.Registry
	if rr == nil || len(rr.Plan)+len(rr.Deleted) == 0 {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	// The report without the two lists, whose empty arrays mark where
	// they go: fields of the registry object sit at four spaces.
	short := *rr
	short.Plan, short.Deleted = []ImageReport{}, []ImageReport{}
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
		key    string
		images []ImageReport
	}{{"plan", rr.Plan}, {"deleted", rr.Deleted}} {
		mark := []byte("\n    \"" + list.key + "\": []")
		i := bytes.Index(text, mark)
		if i < 0 || bytes.Count(text, mark) != 1 {
			return fmt.Errorf("write report: no single place for %q", list.key)
		}
		bw.Write(text[:i+len(mark)-1]) // up to and with "["
		text = text[i+len(mark)-1:]    // from "]" on
		for k, im := range list.images {
			b, err := json.MarshalIndent(im, "      ", "  ")
			if err != nil {
				return err
			}
			bw.WriteString("\n      ")
			bw.Write(b)
			if k < len(list.images)-1 {
				bw.WriteByte(',')
			}
		}
		if len(list.images) > 0 {
			bw.WriteString("\n    ")
		}
	}
	bw.Write(text)
	return bw.Flush()
}
