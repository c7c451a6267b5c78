// hwsr_conv: one streaming k x k convolution layer of the hwsr engine.
//
// Pixels arrive one per handshake in raster order (all CIN channels of one pixel per word,
// channel 0 in the low bits). The K x K taps lie DIL pixels apart, so the window spans
// S = DIL*(K-1)+1 rows and columns: S-1 line buffers of MAXW words hold the rows above, and
// a window register holds the newest S columns of the K tapped rows. Each accepted input
// advances one "slot" of the linear raster stream; the window of slot n is centred on the
// output pixel n - D, with D = P*W + P (P = S/2): the layer lags its input by P rows and P
// pixels. GROUPS splits the channels: output channel co reads the CIN/GROUPS inputs of its
// group co / (COUT/GROUPS) (GROUPS = CIN = COUT: depthwise). After the frame's
// last pixel the layer runs D more slots without input (the bottom halo; s_ready is low).
// Window taps outside the frame read 0: zero padding at all four borders, decided from the
// output position, so widths and heights below K work.
//
// Datapath of one output channel co (the integer program's arithmetic, bit for bit):
//   sum = bias[co] + sum(w * x)            exact, SUM_BITS wide, over co's group and the taps
//   acc = wrap or saturate(sum, ACC_BITS)   ACC_SAT = 0 wrap, 1 saturate
//   acc = max(acc, 0)                       RELU = 1 only
//   y   = sat(round_shift(acc, shift[co]))  ROUND = 0 half-up, 1 half-even; shift < 0: left
// Two pipeline registers: the window (slot) and the output word, with valid/ready between.
// m_acc (a probe, unused by the engine: synthesis drops it) holds the fitted, ReLU'd sums.
// Weights (order c_out, c_in/GROUPS, ky, kx), biases and shifts are ROMs read with $readmemh.
`default_nettype none
module hwsr_conv #(
    parameter integer K = 3,            // kernel size (odd)
    parameter integer CIN = 3,          // input channels
    parameter integer COUT = 20,        // output channels
    parameter integer GROUPS = 1,       // channel groups (divides CIN and COUT)
    parameter integer DIL = 1,          // tap spacing in pixels
    parameter integer IN_BITS = 8,      // input code width
    parameter integer IN_SIGNED = 0,    // input codes are two's complement
    parameter integer OUT_BITS = 8,     // output code width
    parameter integer OUT_SIGNED = 0,   // output codes are two's complement
    parameter integer RELU = 1,         // ReLU before the requantization
    parameter integer W_BITS = 8,       // weight width (signed)
    parameter integer B_BITS = 16,      // bias width (signed)
    parameter integer ACC_BITS = 32,    // accumulator width (signed)
    parameter integer SUM_BITS = 48,    // exact sum width (no overflow before the fit)
    parameter integer ACC_SAT = 0,      // accumulator overflow: 0 wrap, 1 saturate
    parameter integer ROUND = 0,        // 0 half-up, 1 half-even
    parameter integer MAXW = 64,        // line-buffer depth: the widest frame
    parameter WEIGHT_FILE = "weight.hex",
    parameter BIAS_FILE = "bias.hex",
    parameter SHIFT_FILE = "shift.hex"
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire [15:0]              cfg_width,   // frame width, 1..MAXW, stable per frame
    input  wire [15:0]              cfg_height,  // frame height, >= 1
    input  wire                     s_valid,
    output wire                     s_ready,
    input  wire [CIN*IN_BITS-1:0]   s_data,
    output reg                      m_valid,
    input  wire                     m_ready,
    output reg  [COUT*OUT_BITS-1:0] m_data,
    output reg  [COUT*ACC_BITS-1:0] m_acc   // probe: the accumulators m_data came from
);
    localparam integer S = DIL * (K - 1) + 1;  // window span: rows and columns
    localparam integer P = S / 2;
    localparam integer GC = CIN / GROUPS;     // inputs of one group
    localparam integer GO = COUT / GROUPS;    // outputs of one group
    localparam integer PIX = CIN * IN_BITS;
    localparam integer LBN = (S > 1) ? S - 1 : 1;
    localparam integer XB = (MAXW > 1) ? $clog2(MAXW) : 1;
    localparam integer VW = ACC_BITS + OUT_BITS + 2;  // rounding and left-shift headroom
    localparam integer RSW = VW;
`include "hwsr_round_shift.vh"

    reg [W_BITS-1:0] wrom [0:COUT*GC*K*K-1];
    reg [B_BITS-1:0] brom [0:COUT-1];
    reg [7:0]        srom [0:COUT-1];
    initial begin
        $readmemh(WEIGHT_FILE, wrom);
        $readmemh(BIAS_FILE, brom);
        $readmemh(SHIFT_FILE, srom);
`ifdef HWSR_PACKED_MAC
        pack_weights;
`endif
    end

`ifdef HWSR_PACKED_MAC
    // Simulation speed-up (Icarus): the COUT weights of one window tap packed into lanes of
    // SUM_BITS, so one wide multiply-add per tap forms every channel's sum at once; the lanes
    // are unpacked exactly (each lane's sum fits SUM_BITS). Same sums as the MAC loop below;
    // a channel outside an output's group gets a zero weight in that output's lane.
    reg signed [SUM_BITS*COUT-1:0] wpk [0:CIN*K*K-1];  // tap t, input channel c: t*CIN + c
    reg signed [SUM_BITS*COUT-1:0] pk, pk_w;
    reg signed [SUM_BITS-1:0]      lane;
    integer pj, pc;
    task pack_weights;
        begin
            for (pj = 0; pj < CIN*K*K; pj = pj + 1) begin
                wpk[pj] = 0;
                for (pc = 0; pc < COUT; pc = pc + 1)
                    if ((pj % CIN) / GC == pc / GO) begin
                        pk_w = $signed(wrom[(pc*GC + (pj % CIN) % GC)*K*K + pj / CIN]);
                        wpk[pj] = wpk[pj] + (pk_w <<< (SUM_BITS*pc));
                    end
            end
        end
    endtask
`endif

    reg  [15:0] xi;            // column of the next slot: the line-buffer address
    reg  [15:0] in_x, in_y;    // position of the next input pixel
    reg         in_done;       // the frame's pixels are in: flushing the bottom halo
    reg  [31:0] lag;           // slots of this frame so far, saturating at D
    reg  [15:0] out_x, out_y;  // position of the next output pixel
    reg         s1_valid;      // the window holds an output pixel's neighbourhood
    reg  [15:0] s1_x, s1_y;    // that output pixel's position
    reg  [IN_BITS-1:0] win [0:K*S*CIN-1];  // tapped row ky, column sx: (ky*S + sx)*CIN + c

    wire [31:0] lag_d = P * cfg_width + P;
    wire s1_move = s1_valid && (!m_valid || m_ready);
    wire s1_free = !s1_valid || s1_move;
    wire adv = s1_free && (in_done || s_valid);
    assign s_ready = s1_free && !in_done && !rst;
    wire [PIX-1:0] pix_new = in_done ? {PIX{1'b0}} : s_data;
    wire last_out = (lag == lag_d) && out_x == cfg_width - 1 && out_y == cfg_height - 1;

    // Line buffer j holds row y-1-j; read before write at the same column (a shift chain).
    wire [LBN*PIX-1:0] lb_rd;
    genvar j;
    generate
        if (S == 1) begin : g_nolb
            assign lb_rd = {PIX{1'b0}};
        end
        for (j = 0; j < S - 1; j = j + 1) begin : g_lb
            reg [PIX-1:0] mem [0:MAXW-1];
            assign lb_rd[j*PIX +: PIX] = mem[xi[XB-1:0]];
            if (j == 0) begin : g_first
                always @(posedge clk) if (adv) mem[xi[XB-1:0]] <= pix_new;
            end else begin : g_next
                always @(posedge clk) if (adv) mem[xi[XB-1:0]] <= lb_rd[(j-1)*PIX +: PIX];
            end
        end
    endgenerate

    // Tapped row ky is span row ky*DIL: the newest row (S-1) is the input, row r < S-1 is
    // line buffer S-2-r.
    integer ky, kx, c;
    always @(posedge clk) begin
        if (adv) begin
            for (ky = 0; ky < K; ky = ky + 1) begin
                for (kx = 0; kx < S - 1; kx = kx + 1)
                    for (c = 0; c < CIN; c = c + 1)
                        win[(ky*S + kx)*CIN + c] <= win[(ky*S + kx + 1)*CIN + c];
                for (c = 0; c < CIN; c = c + 1)
                    if (ky*DIL == S - 1)
                        win[(ky*S + S - 1)*CIN + c] <= pix_new[c*IN_BITS +: IN_BITS];
                    else
                        win[(ky*S + S - 1)*CIN + c]
                            <= lb_rd[(S-2-ky*DIL)*PIX + c*IN_BITS +: IN_BITS];
            end
        end
    end

    // Slot and position counters.
    always @(posedge clk) begin
        if (rst) begin
            xi <= 0; in_x <= 0; in_y <= 0; in_done <= 1'b0; lag <= 0;
            out_x <= 0; out_y <= 0; s1_valid <= 1'b0; s1_x <= 0; s1_y <= 0;
        end else begin
            if (s1_move) s1_valid <= 1'b0;
            if (adv) begin
                xi <= (xi == cfg_width - 1) ? 16'd0 : xi + 16'd1;
                if (!in_done) begin
                    in_x <= (in_x == cfg_width - 1) ? 16'd0 : in_x + 16'd1;
                    if (in_x == cfg_width - 1) in_y <= in_y + 16'd1;
                    if (in_x == cfg_width - 1 && in_y == cfg_height - 1) in_done <= 1'b1;
                end
                if (lag == lag_d) begin
                    s1_valid <= 1'b1; s1_x <= out_x; s1_y <= out_y;
                    out_x <= (out_x == cfg_width - 1) ? 16'd0 : out_x + 16'd1;
                    if (out_x == cfg_width - 1) out_y <= out_y + 16'd1;
                end else begin
                    lag <= lag + 1;
                end
                if (last_out) begin  // next slot is the next frame's first pixel
                    xi <= 0; in_x <= 0; in_y <= 0; in_done <= 1'b0; lag <= 0;
                    out_x <= 0; out_y <= 0;
                end
            end
        end
    end

    // MAC array, accumulator fit, ReLU, requantizer, saturation: one output word per move.
    reg signed [SUM_BITS-1:0] sum, amax, amin;
    reg signed [W_BITS-1:0]   wv;
    reg signed [IN_BITS:0]    xv;
    reg signed [VW-1:0]       v, q, one, omax, omin;
    reg signed [7:0]          sh;
    reg [K*K-1:0]             mask;
    reg [IN_BITS-1:0]         xw;  // one window code: tap t (row t/K, column (t%K)*DIL)
    integer co, ci, t, yy, xx, rs, my, mx, g;
    always @(posedge clk) begin
        if (rst) begin
            m_valid <= 1'b0;
        end else begin
            if (m_valid && m_ready) m_valid <= 1'b0;
            if (s1_move) begin
                m_valid <= 1'b1;
                for (my = 0; my < K; my = my + 1)
                    for (mx = 0; mx < K; mx = mx + 1) begin
                        yy = s1_y + my*DIL - P;
                        xx = s1_x + mx*DIL - P;
                        mask[my*K + mx] = yy >= 0 && yy < cfg_height && xx >= 0 && xx < cfg_width;
                    end
                one = 1;
                amax = {{(SUM_BITS-ACC_BITS+1){1'b0}}, {(ACC_BITS-1){1'b1}}};
                amin = ~amax;
                omax = OUT_SIGNED ? (one <<< (OUT_BITS - 1)) - one : (one <<< OUT_BITS) - one;
                omin = OUT_SIGNED ? -(one <<< (OUT_BITS - 1)) : 0;
`ifdef HWSR_PACKED_MAC
                pk = 0;
                for (t = 0; t < K*K; t = t + 1)
                    if (mask[t])
                        for (ci = 0; ci < CIN; ci = ci + 1) begin
                            xw = win[((t / K)*S + (t % K)*DIL)*CIN + ci];
                            xv = IN_SIGNED ? {xw[IN_BITS-1], xw} : {1'b0, xw};
                            pk = pk + wpk[t*CIN + ci] * xv;
                        end
`endif
                for (co = 0; co < COUT; co = co + 1) begin
`ifdef HWSR_PACKED_MAC
                    lane = pk[SUM_BITS-1:0];
                    pk = (pk - lane) >>> SUM_BITS;
                    sum = lane + $signed(brom[co]);
`else
                    sum = $signed(brom[co]);
                    g = co / GO;
                    for (t = 0; t < K*K; t = t + 1)
                        if (mask[t])
                            for (ci = 0; ci < GC; ci = ci + 1) begin
                                wv = wrom[(co*GC + ci)*K*K + t];
                                xw = win[((t / K)*S + (t % K)*DIL)*CIN + g*GC + ci];
                                xv = IN_SIGNED ? {xw[IN_BITS-1], xw} : {1'b0, xw};
                                sum = sum + wv * xv;
                            end
`endif
                    if (ACC_SAT != 0)
                        v = (sum > amax) ? amax : (sum < amin) ? amin : sum;
                    else
                        v = $signed(sum[ACC_BITS-1:0]);
                    if (RELU != 0 && v < 0) v = 0;
                    m_acc[co*ACC_BITS +: ACC_BITS] <= v[ACC_BITS-1:0];
                    sh = srom[co];
                    if (sh > 0) begin
                        rs = (sh > ACC_BITS + 1) ? ACC_BITS + 1 : sh;
                        q = hwsr_round_shift(v, rs);
                    end else begin
                        rs = (-sh > OUT_BITS) ? OUT_BITS : -sh;
                        q = v <<< rs;
                    end
                    if (q > omax) q = omax;
                    if (q < omin) q = omin;
                    m_data[co*OUT_BITS +: OUT_BITS] <= q[OUT_BITS-1:0];
                end
            end
        end
    end
endmodule
`default_nettype wire
