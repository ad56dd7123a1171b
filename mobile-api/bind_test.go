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
