package gomlx_vgg

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/vggnb/vggnb/weights"
)

// MinSize is the smallest input height and width Keras accepts for VGG without its top.
const MinSize = 32

// DefaultSize is VGG's ImageNet input height and width, required with include_top.
const DefaultSize = 224

// hwc returns the configured input height, width, channels (0 for None).
func (c *Builder) hwc() (h, w, ch int) {
	s := c.inputShape
	if c.dataFormat == weights.ChannelsFirst {
		return s[1], s[2], s[0]
	}
	return s[0], s[1], s[2]
}

// shapeString prints an input shape (0 for None) in the data format, as Keras does.
func (c *Builder) shapeString(h, w, ch int) string {
	none := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	if c.dataFormat == weights.ChannelsFirst {
		return KerasShape([]int{none(ch), none(h), none(w)})
	}
	return KerasShape([]int{none(h), none(w), none(ch)})
}

// KerasShape prints a shape as Keras does, negative dimensions as None:
// (None, 7, 7, 512).
func KerasShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (c *Builder) pretrained() bool { return c.weights != WeightsNone }

// checkKeras validates arguments as keras.applications' VGG and obtain_input_shape do.
func (c *Builder) checkKeras() error {
	w := c.weights
	imagenet := w == WeightsImageNet || w == WeightsAuto || w == WeightsSynthetic
	if imagenet && c.includeTop && c.classes != 1000 {
		return fmt.Errorf("gomlx_vgg: if using weights=%q with include_top=True, classes should be 1000, got %d", w, c.classes)
	}
	if !imagenet && w != WeightsNone {
		if _, err := os.Stat(string(w)); err != nil {
			return fmt.Errorf("gomlx_vgg: weights must be %q, %q, %q, %q or the path of a weights file: %w",
				WeightsImageNet, WeightsAuto, WeightsSynthetic, WeightsNone, err)
		}
	}
	if c.pooling != PoolingNone && c.includeTop {
		return fmt.Errorf("gomlx_vgg: pooling=%q only applies with include_top=False", c.pooling)
	}
	if c.inputShape == nil {
		if c.includeTop {
			c.inputShape = []int{DefaultSize, DefaultSize, 3}
		} else {
			c.inputShape = []int{0, 0, 3}
		}
		if c.dataFormat == weights.ChannelsFirst {
			c.inputShape = []int{c.inputShape[2], c.inputShape[0], c.inputShape[1]}
		}
		return nil
	}
	h, wd, ch := c.hwc()
	given := c.shapeString(h, wd, ch)
	if c.includeTop {
		if h == 0 || wd == 0 {
			return fmt.Errorf("gomlx_vgg: if include_top is True, you should specify a static input_shape; got %s", given)
		}
		if c.pretrained() && (h != DefaultSize || wd != DefaultSize || ch != 3) {
			return fmt.Errorf("gomlx_vgg: when setting include_top=True and loading pretrained weights, input_shape should be %s; got %s",
				c.shapeString(DefaultSize, DefaultSize, 3), given)
		}
	}
	if c.pretrained() && ch != 3 {
		return fmt.Errorf("gomlx_vgg: the input must have 3 channels with pretrained weights; got input_shape=%s", given)
	}
	if ch <= 0 {
		return fmt.Errorf("gomlx_vgg: input_shape must have a positive number of channels; got %s", given)
	}
	if (h != 0 && h < MinSize) || (wd != 0 && wd < MinSize) {
		return fmt.Errorf("gomlx_vgg: input size must be at least %dx%d; got input_shape=%s", MinSize, MinSize, given)
	}
	return nil
}
