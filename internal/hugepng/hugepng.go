// Package hugepng makes PNG files whose header claims any size: a few dozen
// bytes that say width x height (gigapixels if asked), what a decompression
// bomb starts with. Tests of the pixel limits (gomlx_vgg/imagenet's) and the
// server's load tester (gomlx_vgg/serve/loadtest) send them.
package hugepng

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// New returns a PNG of width x height 8-bit RGB pixels by its header (with
// valid checksums, so image.DecodeConfig reads it) and one empty IDAT chunk:
// decoding it fails, after whatever the decoder allocated for the claim.
func New(width, height int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := func(kind string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(kind)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(kind), data...)))
	}
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
