// The expert matmul (moe.h) over this module's kernels: where the engine runs
// the relaxed-SIMD matmuls, experts run them too, with the same bits as a
// dense matmul by the same matrix.
#include "../moe.h"

MAT_ROWS_ID(q2_K)
MAT_ROWS_ID(q3_K)
MAT_ROWS_ID(q4_0)
MAT_ROWS_ID(q4_K)
MAT_ROWS_ID(q5_K)
MAT_ROWS_ID(q6_K)
MAT_ROWS_ID(q8_0)  // over q8_0-relaxed.c's batch kernel
MAT_ROWS_ID(tq1_0)  // ternary-relaxed.c
MAT_ROWS_ID(tq2_0)
MAT_ROWS_ID(q2_Kx4)
MAT_ROWS_ID(q3_Kx4)
MAT_ROWS_ID(q4_0x4)
MAT_ROWS_ID(q4_Kx4)
MAT_ROWS_ID(q5_Kx4)
MAT_ROWS_ID(q6_Kp)
MAT_ROWS_ID(q6_Kx4)
MAT_ROWS_ID(q8_0x4)
MAT_ROWS_ID(tq1_0x4)
