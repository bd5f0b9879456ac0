//! Fixed integer delay for latency compensation: paths with less latency are delayed so every
//! signal meeting at a bus is sample-aligned.

/// A multichannel delay of a fixed number of frames.
#[derive(Debug, Clone)]
pub struct DelayLine {
    delay: usize,
    bufs: Vec<Vec<f32>>,
    pos: usize,
}

impl DelayLine {
    pub fn new(channels: usize, delay: usize) -> Self {
        DelayLine {
            delay,
            bufs: vec![vec![0.0; delay]; channels],
            pos: 0,
        }
    }

    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Delay `block` in place.
    pub fn process(&mut self, block: &mut [&mut [f32]]) {
        if self.delay == 0 {
            return;
        }
        let n = block.first().map_or(0, |c| c.len());
        for (ch, buf) in block.iter_mut().zip(&mut self.bufs) {
            let mut pos = self.pos;
            for x in ch.iter_mut() {
                std::mem::swap(&mut buf[pos], x);
                pos += 1;
                if pos == self.delay {
                    pos = 0;
                }
            }
        }
        self.pos = (self.pos + n) % self.delay;
    }

    pub fn reset(&mut self) {
        for b in &mut self.bufs {
            b.fill(0.0);
        }
        self.pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impulse_comes_out_delay_frames_later_across_blocks() {
        for &block in &[1usize, 3, 64, 1000] {
            let mut d = DelayLine::new(1, 37);
            let mut out = Vec::new();
            let mut input = vec![0.0f32; 200];
            input[5] = 1.0;
            for chunk in input.chunks(block) {
                let mut c = chunk.to_vec();
                d.process(&mut [&mut c]);
                out.extend(c);
            }
            let at = out.iter().position(|&x| x == 1.0).unwrap();
            assert_eq!(at, 42, "block {block}");
            assert_eq!(out.iter().filter(|&&x| x != 0.0).count(), 1);
        }
    }
}
