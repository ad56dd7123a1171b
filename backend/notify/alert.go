package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"suiji/backend"
)

// KindDigest is the kind of an alert that tells of several entries at
// once: it names no one entry or task, so an app that acts on an entry's
// kind (reading its task_id) must not mistake it for one.
const KindDigest = "digest"

// DigestIDs is the most ids of each sort (entries, tasks) a digest
// alert names: FCM's data payload holds 4 KB, and the phone reads the
// rest from its inbox and its task feed.
const DigestIDs = 20

// Alert is what one push tells one user's devices: the user's entries
// of the batches being sent. An alert of one entry is that entry (its
// title, body and payload). Several — a dispatch gives an inspector a
// task for each of their groups — make one digest rather than a burst of
// alerts: one buzz says there is news, the inbox and the task feed say
// what it is (push is the wake-up, not the record), and a phone is not
// throttled by its OS or FCM's per-device limits for a burst. Each entry
// still reaches each device at most once, in the one alert that names
// it.
//
// A digest's title is the entries' title when they share one, else
// "新通知", with the count; its body is the first entry's, with how many
// more there are. Its payload has the kind KindDigest, the entries'
// kinds ("kinds"), "count", and the entries' and their tasks' ids
// ("notification_ids", "task_ids"), each comma-separated, in order and
// without repeats, at most DigestIDs ids of each sort, and the plan when
// they share one.
func Alert(ns []*backend.Notification) (title, body string, data map[string]string) {
	if len(ns) == 1 {
		return ns[0].Title, ns[0].Body, ns[0].Payload()
	}
	first := ns[0]
	title, plan := first.Title, first.PlanID
	var kinds, ids, tasks []string
	seen := map[string]bool{}
	for _, n := range ns {
		if !slices.Contains(kinds, n.Kind) {
			kinds = append(kinds, n.Kind)
		}
		if n.Title != title {
			title = ""
		}
		if n.PlanID != plan {
			plan = ""
		}
		if len(ids) < DigestIDs {
			ids = append(ids, n.ID)
		}
		if n.TaskID != "" && !seen[n.TaskID] && len(tasks) < DigestIDs {
			seen[n.TaskID] = true
			tasks = append(tasks, n.TaskID)
		}
	}
	if title == "" {
		title = "新通知"
	}
	data = map[string]string{"kind": KindDigest, "kinds": strings.Join(kinds, ","), "count": strconv.Itoa(len(ns)), "notification_ids": strings.Join(ids, ",")}
	if len(tasks) > 0 {
		data["task_ids"] = strings.Join(tasks, ",")
	}
	if plan != "" {
		data["plan_id"] = plan
	}
	return fmt.Sprintf("%s（%d 条）", title, len(ns)), fmt.Sprintf("%s；另有 %d 条，详见收件箱", first.Body, len(ns)-1), data
}
