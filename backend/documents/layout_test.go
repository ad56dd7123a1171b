package documents

import (
	"os"
	"strings"
	"testing"

	"suiji/backend/config"
)

func testPage(t *testing.T) *page {
	t.Helper()
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg.PDFFonts)
	if err != nil {
		t.Fatal(err)
	}
	return &page{fonts: g.fonts}
}

func TestWrapFollowsChineseLineBreakingRules(t *testing.T) {
	p := testPage(t)
	const size = 10
	text := "企业未按规定对从业人员进行安全生产教育和培训（见《安全生产法》第二十八条），特种作业人员未持证上岗。" +
		"统一社会信用代码91140525MA0K12345X，现场照片见附件。\n第二段：仓库“禁止烟火”标志缺失，隔离间距不足。"
	for _, w := range []float64{57, 83, 101, 160, 233} {
		lines := p.wrap(text, size, w)
		if len(lines) < 2 {
			t.Fatalf("width %v: %d lines", w, len(lines))
		}
		if got := strings.Join(lines, ""); got != strings.ReplaceAll(text, "\n", "") {
			t.Fatalf("width %v: lines lose or add text:\n%q", w, lines)
		}
		for i, line := range lines {
			if lw := p.width(line, size); lw > w+size {
				t.Errorf("width %v: line %q is %.1f wide", w, line, lw)
			}
			if i > 0 && strings.ContainsRune(noStart, []rune(line)[0]) {
				t.Errorf("width %v: line %d starts with closing punctuation: %q", w, i, line)
			}
			if r := []rune(line); strings.ContainsRune(noEnd, r[len(r)-1]) {
				t.Errorf("width %v: line %d ends with opening punctuation: %q", w, i, line)
			}
			if strings.Contains(line, "第二段") && !strings.HasPrefix(line, "第二段") {
				t.Errorf("width %v: the line break before 第二段 was lost: %q", w, line)
			}
		}
		// The code stays whole on lines wide enough for it.
		if w >= 160 && !strings.Contains(strings.Join(lines, "\n"), "91140525MA0K12345X") {
			t.Errorf("width %v: the code was split: %q", w, lines)
		}
	}
	// A word longer than the line is split, not lost.
	long := strings.Repeat("ABCDEFGHIJ", 8)
	lines := p.wrap(long, size, 60)
	if len(lines) < 5 || strings.Join(lines, "") != long {
		t.Fatalf("a long word wrapped into %q", lines)
	}
	// Latin text breaks at spaces, and the space does not start a line.
	for _, line := range p.wrap("the quick brown fox jumps over the lazy dog again and again", size, 80) {
		if strings.HasPrefix(line, " ") || strings.HasSuffix(line, " ") {
			t.Errorf("space kept at a line's edge: %q", line)
		}
	}
}

func TestTokens(t *testing.T) {
	got := strings.Join(tokens("GB 15603-1995标准\r\n（试行）\t\x07OK"), "|")
	want := "GB| |15603-1995|标|准|\n|（|试|行|）| |OK"
	if got != want {
		t.Fatalf("tokens = %q, want %q", got, want)
	}
}
