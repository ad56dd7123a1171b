package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestProgressPlainLines(t *testing.T) {
	tests := []struct {
		name  string
		total int
		adds  []int
		want  string
	}{
		{
			name: "every tenth once", total: 100, adds: repeat(1, 100),
			want: "enterprises: 10/100 (10%)\nenterprises: 20/100 (20%)\nenterprises: 30/100 (30%)\n" +
				"enterprises: 40/100 (40%)\nenterprises: 50/100 (50%)\nenterprises: 60/100 (60%)\n" +
				"enterprises: 70/100 (70%)\nenterprises: 80/100 (80%)\nenterprises: 90/100 (90%)\n" +
				"enterprises: 100/100 (100%)\n",
		},
		{
			name: "big steps print the tenth reached", total: 10000, adds: []int{2500, 2500, 5000},
			want: "enterprises: 2500/10000 (25%)\nenterprises: 5000/10000 (50%)\nenterprises: 10000/10000 (100%)\n",
		},
		{
			name: "a run that stops early ends with its count", total: 30, adds: []int{5, 5},
			want: "enterprises: 5/30 (16%)\nenterprises: 10/30 (33%)\nenterprises: 10/30 done\n",
		},
		{
			name: "unknown total prints only the final count", total: 0, adds: []int{7, 8},
			want: "enterprises: 15 done\n",
		},
		{
			name: "fewer items than tenths", total: 3, adds: []int{1, 1, 1},
			want: "enterprises: 1/3 (33%)\nenterprises: 2/3 (66%)\nenterprises: 3/3 (100%)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&out, tt.total, "enterprises")
			for _, n := range tt.adds {
				p.Add(n)
			}
			p.Finish()
			p.Finish()
			p.Add(tt.total + 1000) // after Finish: ignored
			if out.String() != tt.want {
				t.Errorf("output =\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func repeat(n, times int) []int {
	s := make([]int, times)
	for i := range s {
		s[i] = n
	}
	return s
}

func TestProgressNotATerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file counts as a terminal")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer counts as a terminal")
	}
}

func TestProgressBarOnTerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgressMode(&out, 50, "items", true)
	for range 50 {
		p.Add(1)
	}
	p.Finish()
	s := out.String()
	if !strings.Contains(s, "items") || !strings.Contains(s, "100%") || !strings.Contains(s, "50/50") {
		t.Errorf("bar output lacks description, 100%% or count: %q", s)
	}
	if strings.Contains(s, "items: 5/50 (10%)\n") {
		t.Errorf("terminal mode printed plain lines: %q", s)
	}
	if !strings.HasSuffix(s, "\n") {
		t.Errorf("bar does not end its line: %q", s)
	}
}
