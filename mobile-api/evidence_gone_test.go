package mobileapi

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"suiji/backend"
)

// TestAnUploadTheStoreDroppedIsRejectedWithTheReason: object storage
// aborts a multipart upload left unfinished longer than it keeps them
// (MinIO's stale-upload expiry, 24 h unless set — shorter than the two
// days a phone may resume). The phone's resume (GET …/parts) and its
// /complete then reject the evidence at once, saying why, with nothing
// left behind, and the same file declared again goes through. Before,
// /parts answered 404 and /complete 400 "nothing is uploaded yet" for as
// long as the phone kept trying.
func TestAnUploadTheStoreDroppedIsRejectedWithTheReason(t *testing.T) {
	et := newEvidenceTask(t)
	base := "tasks/" + et.task.ID + "/"
	ftyp, _ := hex.DecodeString("000000186674797069736f6d0000020069736f6d6d703432") // an MP4's first box
	video := append(ftyp, bytes.Repeat([]byte{2}, 12<<20-len(ftyp))...)
	declare := fmt.Sprintf(`{"kind":"video","content_type":"video/mp4","size":%d,"sha256":%q}`, len(video), sha(video))

	v, _ := et.declare(t, et.ta, declare, 201)
	ps := int(v.Multipart.PartSize)
	putPart(t, v.Multipart.Parts[0].URL, video[:ps])
	// The store's own expiry, as MinIO carries it out.
	core := minio.Core{Client: et.store.Client()}
	if err := core.AbortMultipartUpload(t.Context(), et.store.EvidenceBucket(), base+v.ID, v.Multipart.UploadID); err != nil {
		t.Fatal(err)
	}
	// The phone resuming asks where the upload stands: 409, which sends
	// it to /complete to learn how it ended.
	scenario{token: et.ta, method: "GET", path: "/api/v1/evidence/" + v.ID + "/parts", wantStatus: 409}.run(t, et.env)
	if got := et.complete(t, et.ta, v.ID); got.State != backend.EvidenceRejected || !strings.Contains(got.RejectReason, "no longer holds this unfinished upload") {
		t.Fatalf("an upload the store dropped: %+v; want it rejected with the reason", got)
	}
	if left := et.uploads(t, base+v.ID); len(left) != 0 {
		t.Fatalf("uploads left in progress: %v", left)
	}
	if left := et.versions(t, base+v.ID); len(left) != 0 {
		t.Fatalf("%d objects left", len(left))
	}

	again, _ := et.declare(t, et.ta, declare, 201)
	putPart(t, again.Multipart.Parts[0].URL, video[:ps])
	putPart(t, again.Multipart.Parts[1].URL, video[ps:])
	if got := et.complete(t, et.ta, again.ID); got.State != backend.EvidenceVerified {
		t.Fatalf("the file declared again: %+v; want it verified", got)
	}
}
