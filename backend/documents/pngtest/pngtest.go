// Package pngtest builds PNG files that Go's encoder never writes —
// interlaced (Adam7), or of any colour type around scanlines given as
// they are — for the tests of what the statutory documents can embed
// (packages documents and results). Phones and image editors write them.
package pngtest

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
)

// Interlaced builds a w×h 8-bit RGB PNG with Adam7 interlacing: seven
// passes of filter-less scanlines, each pixel (x*255/w, y*255/h, 128).
func Interlaced(w, h int) []byte {
	var raw bytes.Buffer
	for _, p := range [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}} {
		pw, ph := (w-p[0]+p[2]-1)/p[2], (h-p[1]+p[3]-1)/p[3]
		if pw <= 0 || ph <= 0 {
			continue // an empty pass has no scanlines at all
		}
		for y := range ph {
			raw.WriteByte(0)
			for x := range pw {
				px, py := p[0]+x*p[2], p[1]+y*p[3]
				raw.Write([]byte{byte(px * 255 / w), byte(py * 255 / h), 128})
			}
		}
	}
	return Hand(w, h, 2, 1, raw.Bytes()) // RGB, Adam7
}

// Hand assembles an 8-bit PNG of colour type colour and interlace method
// interlace around raw, its scanlines as they are compressed: whatever
// raw holds, too few pixels included.
func Hand(w, h int, colour, interlace byte, raw []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&out, binary.BigEndian, uint32(len(data)))
		out.WriteString(typ)
		out.Write(data)
		_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9], ihdr[12] = 8, colour, interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return out.Bytes()
}
