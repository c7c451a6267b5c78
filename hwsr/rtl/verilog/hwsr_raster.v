// hwsr_raster: r x r HR blocks in LR order -> HR raster rows, one row segment per beat.
//
// In: one block per transfer, LR raster order (the core's m_*): HR pixel (dy, dx) of the
// block, channel c, at ((dy*R + dx)*3 + c)*8. Out: beat x of HR row y*R+dy is the block
// (y, x)'s row dy, R pixels = R*24 bits (pixel dx, channel c at (dx*3 + c)*8); an HR row of
// a W-wide LR frame is W beats. m_sof: the frame's first beat; m_eol: the last of a row.
//
// One memory of R*MAXW segments (R HR rows, written one segment a clock) transposes each LR
// row in place: a segment is written to the address the previous LR row's segment of the
// same output index was read from, so a row's writes may start while the previous row is
// still being read. With N = R*W segments per LR row and M = N-1, the k-th segment of LR row
// y lies at k * R^y mod M (k < M; k = M at M), so LR row y is written with stride R^y and
// read with stride R^(y+1), y counted from the last time every written row had been read
// (a new frame size takes effect there). The writer stays at most one row ahead of the
// reader and writes a slot only after it was read; the reader reads a segment only after
// it was written.
//
// Throughput: R clocks per block in, one beat per clock out. Nothing stalls the core while
// it gives a block every R or more clocks and the sink is ready (docs/rtl.md).
`default_nettype none
module hwsr_raster #(
    parameter integer R = 3,
    parameter integer MAXW = 1280
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [15:0]       cfg_width,
    input  wire [15:0]       cfg_height,
    input  wire              s_valid,
    output wire              s_ready,
    input  wire [R*R*24-1:0] s_data,
    input  wire              s_sof,
    input  wire              s_eol,
    output reg               m_valid,
    input  wire              m_ready,
    output reg  [R*24-1:0]   m_data,
    output reg               m_sof,
    output reg               m_eol,
    output reg               err_order
);
    localparam integer SEGS = R * MAXW;  // memory words: R HR rows of R-pixel segments
    localparam integer AB = $clog2(SEGS);  // memory address bits
    localparam integer AW = ($clog2(SEGS) + 2 > 17) ? $clog2(SEGS) + 2 : 17;  // counters
    localparam [AW-1:0] ONE = 1;
    localparam [AW-1:0] RA = R[AW-1:0];
    localparam [AW-1:0] RM1 = RA - ONE;

    reg [R*24-1:0] mem [0:SEGS-1];

    wire [AW-1:0] width = {{(AW-16){1'b0}}, cfg_width};
    wire [AW-1:0] n_seg = RA * width;  // segments per LR row
    wire [AW-1:0] m_mod = n_seg - ONE;  // the transpose modulus M
    wire [AW-1:0] stride0 = (m_mod == ONE) ? {AW{1'b0}} : ONE;  // R^0 mod M

    // (s * R) mod M for s < M: R conditional adds.
    function [AW-1:0] mul_r(input [AW-1:0] s, input [AW-1:0] m);
        integer i;
        reg [AW-1:0] t;
        begin
            t = {AW{1'b0}};
            for (i = 0; i < R; i = i + 1) begin
                t = t + s;
                if (t >= m) t = t - m;
            end
            mul_r = t;
        end
    endfunction

    // the next address of a row walk: index k -> k+1 (k+1 = M sits at M; a row restarts at 0)
    function [AW-1:0] next_addr(input [AW-1:0] a, input [AW-1:0] k, input [AW-1:0] s);
        reg [AW-1:0] t;
        begin
            t = a + s;
            if (t >= m_mod) t = t - m_mod;
            if (k + ONE == m_mod) t = m_mod;
            if (k == m_mod) t = {AW{1'b0}};
            next_addr = t;
        end
    endfunction

    // ---- rows: the writer is `ahead` (0 or 1) LR rows past the reader ----
    reg ahead;

    // ---- writer: one segment of the held block per clock ----
    reg [R*R*24-1:0] blk;
    reg blk_full, blk_sof, blk_eol;
    reg [AW-1:0] w_k, w_x, w_addr, w_stride_r;
    reg [AW-1:0] w_dy;
    reg [15:0] w_y;
    reg [AW-1:0] r_j;
    // every written row has been read: the stride sequence restarts (a new cfg_width, M,
    // takes effect here; between frames of one size the sequence simply goes on)
    wire fresh = !ahead && w_k == {AW{1'b0}} && r_j == {AW{1'b0}};
    wire [AW-1:0] w_stride = fresh ? stride0 : w_stride_r;
    wire w_row_end = w_k == m_mod;
    // the slot was read already (one row ahead) or belongs to a row read completely
    wire w_ok = blk_full && (!ahead || w_k < r_j);
    wire w_last = w_ok && w_dy == RM1;
    assign s_ready = !blk_full || w_last;

    always @(posedge clk) begin
        if (s_valid && s_ready) {blk_eol, blk_sof, blk} <= {s_eol, s_sof, s_data};
        if (w_ok) mem[w_addr[AB-1:0]] <= blk[w_dy*R*24 +: R*24];
    end

    always @(posedge clk) begin
        if (rst) begin
            blk_full <= 1'b0; w_k <= 0; w_x <= 0; w_dy <= 0; w_y <= 0; w_addr <= 0;
            w_stride_r <= 0; err_order <= 1'b0;
        end else begin
            if (s_valid && s_ready) blk_full <= 1'b1;
            else if (w_last) blk_full <= 1'b0;
            if (w_ok) begin
                if (w_dy == {AW{1'b0}} && (blk_sof != (w_k == 0 && w_y == 16'd0)
                                      || blk_eol != (w_x == width - ONE)))
                    err_order <= 1'b1;  // the core's markers disagree with this count
                w_dy <= (w_dy == RM1) ? {AW{1'b0}} : w_dy + ONE;
                if (w_dy == RM1) w_x <= (w_x == width - ONE) ? {AW{1'b0}} : w_x + ONE;
                w_addr <= next_addr(w_addr, w_k, w_stride);
                w_k <= w_row_end ? {AW{1'b0}} : w_k + ONE;
                w_stride_r <= w_row_end ? mul_r(w_stride, m_mod) : w_stride;
                if (w_row_end) w_y <= (w_y == cfg_height - 16'd1) ? 16'd0 : w_y + 16'd1;
            end
        end
    end

    // ---- reader: one beat per clock into the output register ----
    reg [AW-1:0] r_x, r_xr, r_addr, r_stride_r;
    reg [15:0] r_dy, r_y;
    wire [AW-1:0] r_stride = fresh ? mul_r(stride0, m_mod) : r_stride_r;
    wire [AW-1:0] r_seg = r_xr + {{(AW-16){1'b0}}, r_dy};  // its write index x*R + dy
    wire r_row_end = r_j == m_mod;
    wire r_ok = ahead || w_k > r_seg;
    wire r_go = r_ok && (!m_valid || m_ready);

    always @(posedge clk) begin
        if (r_go) begin
            m_data <= mem[r_addr[AB-1:0]];
            m_sof <= r_j == 0 && r_y == 16'd0;
            m_eol <= r_x == width - ONE;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            m_valid <= 1'b0; r_j <= 0; r_x <= 0; r_xr <= 0; r_dy <= 0; r_y <= 0;
            r_addr <= 0; r_stride_r <= 0; ahead <= 1'b0;
        end else begin
            if (r_go) m_valid <= 1'b1;
            else if (m_ready) m_valid <= 1'b0;
            if (r_go) begin
                r_x <= (r_x == width - ONE) ? {AW{1'b0}} : r_x + ONE;
                r_xr <= (r_x == width - ONE) ? {AW{1'b0}} : r_xr + RA;
                if (r_x == width - ONE) r_dy <= r_row_end ? 16'd0 : r_dy + 16'd1;
                r_addr <= next_addr(r_addr, r_j, r_stride);
                r_j <= r_row_end ? {AW{1'b0}} : r_j + ONE;
                if (r_row_end) r_y <= (r_y == cfg_height - 16'd1) ? 16'd0 : r_y + 16'd1;
            end
            if (r_go && r_row_end) r_stride_r <= mul_r(r_stride, m_mod);
            else if (fresh) r_stride_r <= r_stride;  // the restart's R mod M
            if ((w_ok && w_row_end) != (r_go && r_row_end)) ahead <= w_ok && w_row_end;
        end
    end
endmodule
`default_nettype wire
