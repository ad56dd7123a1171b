package mobileapi

import (
	"reflect"
	"testing"
	"time"
)

func TestJSONShapeSpeaksJSON(t *testing.T) {
	type obj struct{ A int }
	for typ, want := range map[reflect.Type]string{
		reflect.TypeFor[obj]():               "a JSON object",
		reflect.TypeFor[*obj]():              "a JSON object",
		reflect.TypeFor[map[string]string](): "a JSON object",
		reflect.TypeFor[[]string]():          "an array of strings",
		reflect.TypeFor[[]obj]():             "an array of JSON objects",
		reflect.TypeFor[[][]int]():           "an array of arrays of integers",
		reflect.TypeFor[[]bool]():            "an array of true or false values",
		reflect.TypeFor[string]():            "a string",
		reflect.TypeFor[int64]():             "an integer",
		reflect.TypeFor[float64]():           "a number",
		reflect.TypeFor[bool]():              "true or false",
		reflect.TypeFor[time.Time]():         "a string (an RFC 3339 time)",
		reflect.TypeFor[[]time.Time]():       "an array of strings (an RFC 3339 time)",
		reflect.TypeFor[any]():               "a JSON value",
	} {
		if got := jsonShape(typ); got != want {
			t.Errorf("jsonShape(%s) = %q, want %q", typ, got, want)
		}
	}
}

func TestLongArrayNamesTheList(t *testing.T) {
	type inner struct {
		Tags []string `json:"tags" maxItems:"2"`
	}
	type body struct {
		IDs    []string         `json:"ids"`
		Parts  []inner          `json:"parts"`
		ByName map[string][]int `json:"by_name"`
		Raw    []byte           `json:"raw"`
		Skip   []string         `json:"-"`
	}
	big := make([]string, maxBodyArray+1)
	for name, tc := range map[string]struct {
		v         body
		path      string
		wantLimit int
	}{
		"fits":                   {v: body{IDs: big[:maxBodyArray], Parts: []inner{{Tags: []string{"a", "b"}}}, Raw: make([]byte, 5000), Skip: big}},
		"top level":              {v: body{IDs: big}, path: "ids", wantLimit: maxBodyArray},
		"a field's own bound":    {v: body{Parts: []inner{{}, {Tags: []string{"a", "b", "c"}}}}, path: "parts[1].tags", wantLimit: 2},
		"inside a map":           {v: body{ByName: map[string][]int{"k": make([]int, maxBodyArray+1)}}, path: "by_name.k", wantLimit: maxBodyArray},
		"nil pointers are empty": {v: body{}},
	} {
		path, limit := longArray(reflect.ValueOf(&tc.v), "", maxBodyArray)
		if path != tc.path || (path != "" && limit != tc.wantLimit) {
			t.Errorf("%s: longArray = %q, %d; want %q, %d", name, path, limit, tc.path, tc.wantLimit)
		}
	}
}
