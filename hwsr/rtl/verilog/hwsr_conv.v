// hwsr_conv: one streaming k x k convolution layer of the hwsr engine.
//
// Pixels arrive one per handshake in raster order (all CIN channels of one pixel per word,
// channel 0 in the low bits) into an hwsr_window. The K x K taps lie DIL pixels apart, so the window spans
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
    localparam integer GC = CIN / GROUPS;     // inputs of one group
    localparam integer GO = COUT / GROUPS;    // outputs of one group
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

    // Line buffers, window and slot counters: hwsr_window (the folded engine's too). The
    // window moves when the output register can take this pixel's word.
    wire w_valid;
    wire [K*K*CIN*IN_BITS-1:0] w_data;
    wire [K*K-1:0] mask;
    wire s1_move = w_valid && (!m_valid || m_ready);
    hwsr_window #(.K(K), .CIN(CIN), .DIL(DIL), .IN_BITS(IN_BITS), .MAXW(MAXW)) u_win (
        .clk(clk), .rst(rst), .cfg_width(cfg_width), .cfg_height(cfg_height),
        .s_valid(s_valid), .s_ready(s_ready), .s_data(s_data),
        .w_valid(w_valid), .w_ready(!m_valid || m_ready), .w_data(w_data), .w_mask(mask));

    // MAC array, accumulator fit, ReLU, requantizer, saturation: one output word per move.
    reg signed [SUM_BITS-1:0] sum, amax, amin;
    reg signed [W_BITS-1:0]   wv;
    reg signed [IN_BITS:0]    xv;
    reg signed [VW-1:0]       v, q, one, omax, omin;
    reg signed [7:0]          sh;
    reg [IN_BITS-1:0]         xw;  // one window code: tap t = ky*K + kx
    integer co, ci, t, rs, g;
    always @(posedge clk) begin
        if (rst) begin
            m_valid <= 1'b0;
        end else begin
            if (m_valid && m_ready) m_valid <= 1'b0;
            if (s1_move) begin
                m_valid <= 1'b1;
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
                            xw = w_data[(t*CIN + ci)*IN_BITS +: IN_BITS];
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
                                xw = w_data[(t*CIN + g*GC + ci)*IN_BITS +: IN_BITS];
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
