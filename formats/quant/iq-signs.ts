// The sign tables the grid i-quants share (ggml's ksigns_iq2xs and
// kmask_iq2xs). A 7-bit index stores the signs of 7 of 8 values; the 8th
// sign makes the number of minus signs even, so entry i is i with the parity
// of i in bit 7. Bit j of an entry negates value j (kmask_iq2xs[j] = 1 << j).
export const KSIGNS_IQ2XS: Uint8Array = Uint8Array.from({ length: 128 }, (_, i) => {
  let parity = 0;
  for (let b = 0; b < 7; b++) parity ^= (i >> b) & 1;
  return i | (parity << 7);
});
