// hwsr_mac: one folded, pipelined MAC unit of the hwsr engine, shared by NS stages.
//
// PE output channels per cycle, each summing SIMD of its FAN = K*K*CIN/GROUPS products:
// PE*SIMD multipliers. One output pixel of stage s takes NG_s = ceil(COUT_s/PE) channel
// groups x NCH = FAN/SIMD chunks = NG_s*NCH cycles ("steps"). With NS = 2 the unit serves
// the same layer index of Net1 (stage 0) and Net2 (stage 1): two weight/bias/shift banks
// (one memory, bank 1 after bank 0), the two stages' windows (hwsr_window) in front, one
// output FIFO (hwsr_fifo) per stage behind. A pixel starts only when its stage's FIFO has a
// free slot for it and for every pixel of that stage already in flight (credit), so the
// unit never waits on a consumer mid-pixel and no combinational ready path crosses it; when
// both stages have a window ready the unit alternates between them.
//
// Pipeline of one step (one register each unless said): issue (operands selected from the
// window, weight/bias/shift words read) -> products -> adder tree (log2 SIMD levels, a
// register every TREE_K levels) -> accumulator (bias + chunk sums, exact in SUM_BITS) ->
// fit (wrap or saturate to ACC_BITS) and ReLU -> rounding shift -> saturation into the
// stage's output word -> FIFO. The arithmetic is hwsr_conv's, bit for bit.
//
// Memories (RAMs, loaded through the write port): the weight memory, one word of PE*SIMD
// weights per step (lane p, element e at [(p*SIMD + e)*W_BITS +: W_BITS]; lanes past
// COUT_s are 0), address bank*NG0*NCH + g*NCH + j; the bias and shift memories, one word of
// PE values per channel group, address bank*NG0 + g. Element e of chunk j is window product
// f = j*SIMD + e: tap f / GC, channel f % GC of the lane's group.
//
// Write port: wr_addr = {unit, memory, word, slice} (WR_UNIT_BITS, 2, WR_WORD_BITS,
// WR_SLICE_BITS bits); a write whose unit field is UNIT puts wr_data into bits [32s +: 32]
// of word `word` of memory 0 (weight), 1 (bias) or 2 (shift) at the clock edge; one outside
// the memory does nothing. Load between frames: a write takes effect for the steps issued
// after it. With hwsr_preload.v compiled first (simulation, FPGA), the memories start
// preloaded from rom/unit<UNIT>.{weight,bias,shift}.hex instead.
`default_nettype none
module hwsr_mac #(
    parameter integer NS = 1,           // stages served: 1, or 2 (Net1 = 0, Net2 = 1)
    parameter integer K = 3,
    parameter integer CIN = 3,
    parameter integer GROUPS = 1,
    parameter integer COUT0 = 20,       // stage 0 output channels
    parameter integer COUT1 = 1,        // stage 1 output channels (NS = 2)
    parameter integer PE = 1,           // output channels per cycle
    parameter integer SIMD = 27,        // products per output channel per cycle (divides FAN)
    parameter integer TREE_K = 2,       // a register every TREE_K adder-tree levels
    parameter integer FD = 4,           // output FIFO depth per stage
    parameter integer IN_BITS = 8,
    parameter integer IN_SIGNED = 0,
    parameter integer OUT_BITS = 8,
    parameter integer OUT_SIGNED = 0,
    parameter integer RELU = 1,
    parameter integer W_BITS = 8,
    parameter integer B_BITS = 16,
    parameter integer ACC_BITS = 32,
    parameter integer SUM_BITS = 48,
    parameter integer ACC_SAT = 0,
    parameter integer ROUND = 0,
    parameter integer PROBE = 1,        // carry the accumulator probe (m0_acc/m1_acc)
    parameter integer UNIT = 0,         // this unit's number in the write-address map
    parameter integer WR_UNIT_BITS = 1,  // write-address fields (the engine's)
    parameter integer WR_WORD_BITS = 1,
    parameter integer WR_SLICE_BITS = 1
) (
    input  wire                       clk,
    input  wire                       rst,
    input  wire                       wr_en,     // memory write port
    input  wire [WR_UNIT_BITS+WR_WORD_BITS+WR_SLICE_BITS+1:0] wr_addr,
    input  wire [31:0]                wr_data,
    input  wire                       a_valid,   // stage 0 window
    output wire                       a_ready,
    input  wire [K*K*CIN*IN_BITS-1:0] a_data,
    input  wire [K*K-1:0]             a_mask,
    input  wire                       b_valid,   // stage 1 window (NS = 2)
    output wire                       b_ready,
    input  wire [K*K*CIN*IN_BITS-1:0] b_data,
    input  wire [K*K-1:0]             b_mask,
    output wire                       m0_valid,
    input  wire                       m0_ready,
    output wire [COUT0*OUT_BITS-1:0]  m0_data,
    output wire [COUT0*ACC_BITS-1:0]  m0_acc,    // probe: the fitted, ReLU'd sums
    output wire                       m1_valid,
    input  wire                       m1_ready,
    output wire [COUT1*OUT_BITS-1:0]  m1_data,
    output wire [COUT1*ACC_BITS-1:0]  m1_acc
);
    localparam integer GC = CIN / GROUPS;
    localparam integer GO = COUT0 / GROUPS;  // a grouped layer has COUT0 = COUT1
    localparam integer FAN = K * K * GC;
    localparam integer NCH = FAN / SIMD;
    localparam integer NG0 = (COUT0 + PE - 1) / PE;
    localparam integer NG1 = (NS > 1) ? (COUT1 + PE - 1) / PE : 0;
    localparam integer NGM = (NG0 > NG1) ? NG0 : NG1;
    localparam integer LEV = (SIMD > 1) ? $clog2(SIMD) : 0;
    localparam integer NTR = LEV / TREE_K;  // registered tree levels
    localparam integer VW = ACC_BITS + OUT_BITS + 2;
    localparam integer RSW = VW;
    // step metadata: valid, first chunk, last chunk, stage, g[15:0], shifts, biases
    localparam integer MW = 4 + 16 + PE*8 + PE*B_BITS;
    // a lane of an output word: the output code and, with PROBE, the accumulator probe
    localparam integer LW = OUT_BITS + ((PROBE != 0) ? ACC_BITS : 0);
`include "hwsr_round_shift.vh"

    // Live sums per lane at adder-tree level l (level 0: the SIMD products).
    function integer lv_n;
        input integer l;
        lv_n = (SIMD + (1 << l) - 1) >> l;
    endfunction

    // ---- memories and their write port ----
    // Each memory's words are padded to a whole number (at least 2) of 32-bit slices, so a
    // slice write is always inside the word; the padding is never read.
    localparam integer WND = (NG0 + NG1)*NCH, BND = NG0 + NG1;       // words
    localparam integer WNS = (PE*SIMD*W_BITS + 31) / 32;               // slices per word
    localparam integer BNS = (PE*B_BITS + 31) / 32, SNS = (PE*8 + 31) / 32;
    localparam integer WNP = (WNS > 1) ? WNS : 2, BNP = (BNS > 1) ? BNS : 2;
    localparam integer SNP = (SNS > 1) ? SNS : 2;
    localparam integer WSB = $clog2(WNP), BSB = $clog2(BNP), SSB = $clog2(SNP);
    localparam integer WAW = (WND > 1) ? $clog2(WND) : 1, BAW = (BND > 1) ? $clog2(BND) : 1;
    localparam integer WAB = WR_UNIT_BITS + 2 + WR_WORD_BITS + WR_SLICE_BITS;
    reg [WNP*32-1:0] wmem [0:WND-1];
    reg [BNP*32-1:0] bmem [0:BND-1];
    reg [SNP*32-1:0] smem [0:BND-1];
`ifdef HWSR_PRELOAD_MAC
    `HWSR_PRELOAD_MAC
`endif
    wire [WR_UNIT_BITS-1:0]  wr_unit  = wr_addr[WAB-1 -: WR_UNIT_BITS];
    wire [1:0]               wr_mem   = wr_addr[WR_WORD_BITS + WR_SLICE_BITS +: 2];
    wire [WR_WORD_BITS-1:0]  wr_word  = wr_addr[WR_SLICE_BITS +: WR_WORD_BITS];
    wire [WR_SLICE_BITS-1:0] wr_slice = wr_addr[WR_SLICE_BITS-1:0];
    wire wr_here = wr_en && wr_unit == UNIT[WR_UNIT_BITS-1:0];
    wire wr_w = wr_here && wr_mem == 2'd0 && {1'b0, wr_word} < WND[WR_WORD_BITS:0]
                && {1'b0, wr_slice} < WNS[WR_SLICE_BITS:0];
    wire wr_b = wr_here && wr_mem == 2'd1 && {1'b0, wr_word} < BND[WR_WORD_BITS:0]
                && {1'b0, wr_slice} < BNS[WR_SLICE_BITS:0];
    wire wr_s = wr_here && wr_mem == 2'd2 && {1'b0, wr_word} < BND[WR_WORD_BITS:0]
                && {1'b0, wr_slice} < SNS[WR_SLICE_BITS:0];
    always @(posedge clk) begin
        if (wr_w) wmem[wr_word[WAW-1:0]][{wr_slice[WSB-1:0], 5'd0} +: 32] <= wr_data;
        if (wr_b) bmem[wr_word[BAW-1:0]][{wr_slice[BSB-1:0], 5'd0} +: 32] <= wr_data;
        if (wr_s) smem[wr_word[BAW-1:0]][{wr_slice[SSB-1:0], 5'd0} +: 32] <= wr_data;
    end

`ifdef HWSR_PACKED_MAC
    // Simulation speed-up (Icarus), dense layers only: the PE weights of one product packed
    // into lanes of SUM_BITS, so one wide multiply-add per product forms every lane's chunk
    // sum at once, unpacked exactly (each lane's sum fits SUM_BITS). The sums then ride the
    // pipeline's own registers (ps: issue, products, each tree register), so timing, credit
    // and everything after the tree are the design's; Verilator and yosys see the plain tree.
    localparam integer PACK = (GROUPS == 1) ? 1 : 0;
    reg signed [PE*SUM_BITS-1:0] wpk [0:(NG0 + NG1)*NCH*SIMD-1];
    reg signed [PE*SUM_BITS-1:0] pk, pw;
    reg signed [SUM_BITS-1:0]    lane;
    reg signed [SUM_BITS-1:0]    ps [0:(NTR + 2)*PE-1];
    reg signed [IN_BITS:0]       xv;
    reg        [IN_BITS-1:0]     xc;
    integer pa, pl, pr, p, e, f;
    // The packed copy follows the weight memory: repacked in reset (after a preload) and
    // once a burst of weight writes has ended (wr_en not high: X in a testbench counts).
    reg repack;
    always @(posedge clk) begin
        if (repack && wr_en !== 1'b1) pack_weights;
        repack <= rst || wr_w || (repack && wr_en === 1'b1);
    end
    task pack_weights;
        for (pa = 0; pa < (NG0 + NG1)*NCH*SIMD; pa = pa + 1) begin
            wpk[pa] = 0;
            for (pl = 0; pl < PE; pl = pl + 1) begin
                pw = $signed(wmem[pa / SIMD][(pl*SIMD + pa % SIMD)*W_BITS +: W_BITS]);
                wpk[pa] = wpk[pa] + (pw <<< (SUM_BITS*pl));
            end
        end
    endtask
`else
    localparam integer PACK = 0;
`endif

    // ---- sequencer: which stage's pixel, which channel group g and chunk j this cycle ----
    localparam [15:0] NCH1 = NCH[15:0] - 16'd1;            // last chunk
    localparam [15:0] NG0_16 = NG0[15:0], NG1_16 = NG1[15:0];
    localparam [8:0]  FD9 = FD[8:0];
    wire [7:0] cnt0, cnt1;
    reg  [7:0] fly0, fly1;  // pixels started and not yet in the FIFO
    reg        busy, sel, turn;
    reg [15:0] g, j;
    wire ok0 = a_valid && ({1'b0, cnt0} + {1'b0, fly0} < FD9);
    wire ok1 = (NS > 1) && b_valid && ({1'b0, cnt1} + {1'b0, fly1} < FD9);
    wire pick = ok1 && (!ok0 || turn);
    wire issue = busy || ok0 || ok1;
    wire cur = busy ? sel : pick;
    wire [15:0] cg = busy ? g : 16'd0;
    wire [15:0] cj = busy ? j : 16'd0;
    wire [15:0] ng = cur ? NG1_16 : NG0_16;
    wire last = cj == NCH1 && cg == ng - 16'd1;
    wire start = !busy && issue;
    assign a_ready = issue && last && !cur;
    assign b_ready = issue && last && cur;
    wire done0, done1;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0; sel <= 1'b0; turn <= 1'b0; g <= 16'd0; j <= 16'd0;
            fly0 <= 8'd0; fly1 <= 8'd0;
        end else begin
            if (issue) begin
                busy <= !last;
                sel <= cur;
                j <= (cj == NCH1) ? 16'd0 : cj + 16'd1;
                g <= (cj == NCH1) ? cg + 16'd1 : cg;
                if (last) turn <= !cur;
            end
            fly0 <= fly0 + ((start && !pick) ? 8'd1 : 8'd0) - (done0 ? 8'd1 : 8'd0);
            fly1 <= fly1 + ((start && pick) ? 8'd1 : 8'd0) - (done1 ? 8'd1 : 8'd0);
        end
    end

    // ---- issue: operands of every lane, and this group's weight, bias and shift words ----
    localparam integer XW = IN_BITS + 1;  // an operand: the code zero- or sign-extended
    wire [K*K*CIN*IN_BITS-1:0] wd = cur ? b_data : a_data;
    wire [K*K-1:0]             wm = cur ? b_mask : a_mask;
    reg  [15:0] wa;  // weight address of the step after this one (a counter)
    wire [15:0] cwa = busy ? wa : (pick ? NG0_16 * NCH[15:0] : 16'd0);
    wire [BAW-1:0] bank_b = cur ? NG0[BAW-1:0] : {BAW{1'b0}};
    wire [BAW-1:0] cba = bank_b + cg[BAW-1:0];
    reg  [PE*SIMD*W_BITS-1:0] wq;
    reg  [MW-1:0] m_is;
    always @(posedge clk) begin
        m_is <= {MW{1'b0}};
        if (!rst && issue) begin
            wq <= wmem[cwa[WAW-1:0]][PE*SIMD*W_BITS-1:0];
            wa <= cwa + 16'd1;
            m_is <= {bmem[cba][PE*B_BITS-1:0], smem[cba][PE*8-1:0], cg, cur, cj == NCH1,
                     cj == 16'd0, 1'b1};
`ifdef HWSR_PACKED_MAC
            if (PACK) begin
                pk = 0;
                for (e = 0; e < SIMD; e = e + 1) begin
                    f = cj*SIMD + e;
                    xc = wm[f / GC] ? wd[((f / GC)*CIN + f % GC)*IN_BITS +: IN_BITS]
                                    : {IN_BITS{1'b0}};
                    xv = IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                    pk = pk + wpk[cwa*SIMD + e] * xv;
                end
                for (p = 0; p < PE; p = p + 1) begin
                    lane = pk[SUM_BITS-1:0];
                    pk = (pk - lane) >>> SUM_BITS;
                    ps[p] <= lane;
                end
            end
`endif
        end
    end

    // ---- products and adder tree (the plain datapath; HWSR_PACKED_MAC: the packed sums) ----
    reg  [MW-1:0] m_pr;
    always @(posedge clk) m_pr <= rst ? {MW{1'b0}} : m_is;
    // m_tr: the step metadata beside each registered tree level (r = 0: the products)
    wire [MW*(NTR+1)-1:0] m_tr;
    assign m_tr[MW-1:0] = m_pr;
    genvar gl, gp, gi, gg;
    generate
        for (gl = 0; gl < NTR; gl = gl + 1) begin : g_mtr
            reg [MW-1:0] r;
            always @(posedge clk) r <= rst ? {MW{1'b0}} : m_tr[gl*MW +: MW];
            assign m_tr[(gl+1)*MW +: MW] = r;
        end
    endgenerate
    wire [MW-1:0] m_ts = m_tr[NTR*MW +: MW];
    wire [PE*SUM_BITS-1:0] lane_sum;  // each lane's chunk sum, beside m_ts
    generate
        if (PACK == 0) begin : g_plain
            // Adder-tree node i of lane p at level l (level 0: the products) is
            // g_lv[l].g_p[p].g_i[i].v; level l has N(l) = ceil(SIMD / 2^l) nodes per lane.
            // Every node is its own net (a simulator wakes only its reader).
            for (gl = 0; gl <= LEV; gl = gl + 1) begin : g_lv
                localparam integer NI = (gl == 0) ? SIMD : lv_n(gl - 1), NO = lv_n(gl);
                for (gp = 0; gp < PE; gp = gp + 1) begin : g_p
                    for (gi = 0; gi < NO; gi = gi + 1) begin : g_i
                        wire [SUM_BITS-1:0] v;
                        if (gl == 0) begin : g_mul
                            // The operand: a mux over the chunks (and, grouped, the channel
                            // groups) with constant window indices, registered at issue.
                            reg [IN_BITS-1:0] xc;
                            integer f, grp, src, jj, gk;
                            always @* begin
                                xc = {IN_BITS{1'b0}};
                                f = 0; grp = 0; src = 0;
                                for (jj = 0; jj < NCH; jj = jj + 1)
                                    for (gk = 0; gk < ((GROUPS == 1) ? 1 : NGM); gk = gk + 1)
                                    begin
                                        f = jj*SIMD + gi;
                                        grp = (GROUPS == 1) ? 0 : (gk*PE + gp) / GO;
                                        src = (f / GC)*CIN + grp*GC + f % GC;
                                        if (cj == jj[15:0] && (GROUPS == 1 || cg == gk[15:0])
                                            && grp < GROUPS && wm[f / GC])
                                            xc = wd[src*IN_BITS +: IN_BITS];
                                    end
                            end
                            reg [XW-1:0] x;
                            always @(posedge clk)
                                if (!rst && issue) x <= {(IN_SIGNED != 0) && xc[IN_BITS-1], xc};
                            // a W_BITS x (IN_BITS+1) multiplier, sign-extended into the tree
                            reg signed [SUM_BITS-1:0] q;
                            always @(posedge clk)
                                if (m_is[0])
                                    q <= $signed(wq[(gp*SIMD + gi)*W_BITS +: W_BITS]) * $signed(x);
                            assign v = q;
                        end else begin : g_sum
                            wire [SUM_BITS-1:0] a = g_lv[gl-1].g_p[gp].g_i[2*gi].v;
                            wire [SUM_BITS-1:0] b;
                            if (2*gi + 1 < NI) begin : g_b
                                assign b = g_lv[gl-1].g_p[gp].g_i[2*gi + 1].v;
                            end else begin : g_z
                                assign b = {SUM_BITS{1'b0}};
                            end
                            if (gl % TREE_K == 0) begin : g_reg  // a register every TREE_K levels
                                reg [SUM_BITS-1:0] q;
                                always @(posedge clk) if (m_tr[(gl/TREE_K - 1)*MW]) q <= a + b;
                                assign v = q;
                            end else begin : g_comb
                                assign v = a + b;
                            end
                        end
                    end
                end
            end
            for (gp = 0; gp < PE; gp = gp + 1) begin : g_out
                assign lane_sum[gp*SUM_BITS +: SUM_BITS] = g_lv[LEV].g_p[gp].g_i[0].v;
            end
        end
`ifdef HWSR_PACKED_MAC
        else begin : g_packed
            for (gp = 0; gp < PE; gp = gp + 1) begin : g_sum
                assign lane_sum[gp*SUM_BITS +: SUM_BITS] = ps[(NTR+1)*PE + gp];
            end
            always @(posedge clk)
                for (pr = 0; pr <= NTR; pr = pr + 1)
                    if ((pr == 0) ? m_is[0] : m_tr[(pr-1)*MW])
                        for (pl = 0; pl < PE; pl = pl + 1) ps[(pr+1)*PE + pl] <= ps[pr*PE + pl];
        end
`endif
    endgenerate

    // ---- accumulator, fit and ReLU, rounding shift, saturation (per lane) ----
    // Metadata kept from here on: m_ac {shifts, g, stage, last, valid}, m_ft {shifts, g,
    // stage, valid}, m_rq {g, stage, valid}.
    localparam integer SHW = PE*8 + 16 + 1;  // shifts, g, stage
    reg  [SHW+1:0] m_ac;
    reg  [SHW:0]   m_ft;
    reg  [17:0]    m_rq;
    always @(posedge clk) begin
        m_ac <= rst ? {(SHW+2){1'b0}} : {m_ts[MW-PE*B_BITS-1:3], m_ts[2], m_ts[0]};
        m_ft <= (rst || !(m_ac[0] && m_ac[1])) ? {(SHW+1){1'b0}} : {m_ac[SHW+1:2], 1'b1};
        m_rq <= rst ? 18'd0 : {m_ft[17:0]};
    end
    localparam [SUM_BITS-1:0] AMAX = {{(SUM_BITS-ACC_BITS+1){1'b0}}, {(ACC_BITS-1){1'b1}}};
    localparam [SUM_BITS-1:0] AMIN = ~AMAX;
    localparam [VW-1:0] OMAX = (OUT_SIGNED != 0)
        ? {{(VW-OUT_BITS+1){1'b0}}, {(OUT_BITS-1){1'b1}}} : {{(VW-OUT_BITS){1'b0}}, {OUT_BITS{1'b1}}};
    localparam [VW-1:0] OMIN = (OUT_SIGNED != 0)
        ? {{(VW-OUT_BITS+1){1'b1}}, {(OUT_BITS-1){1'b0}}} : {VW{1'b0}};
    wire [PE*LW-1:0] lanes;  // per lane {accumulator probe, output code}, beside m_rq
    generate
        for (gp = 0; gp < PE; gp = gp + 1) begin : g_lane
            reg  signed [SUM_BITS-1:0] acc;
            wire signed [B_BITS-1:0] bias = m_ts[20 + PE*8 + gp*B_BITS +: B_BITS];
            wire signed [SUM_BITS-1:0] sum = lane_sum[gp*SUM_BITS +: SUM_BITS];
            always @(posedge clk)
                if (m_ts[0])
                    acc <= (m_ts[1] ? {{(SUM_BITS-B_BITS){bias[B_BITS-1]}}, bias} : acc) + sum;
            // fit to ACC_BITS (wrap or saturate), then ReLU
            wire signed [ACC_BITS-1:0] sat = (acc > $signed(AMAX)) ? AMAX[ACC_BITS-1:0]
                : (acc < $signed(AMIN)) ? AMIN[ACC_BITS-1:0] : acc[ACC_BITS-1:0];
            wire signed [ACC_BITS-1:0] fa = (ACC_SAT != 0) ? sat : acc[ACC_BITS-1:0];
            // ... and, in the same stage, the rounding addend of a right shift (the rounding
            // shift's add, a stage before its shift: the two would not fit one stage)
            wire signed [ACC_BITS-1:0] fr = (RELU != 0 && fa[ACC_BITS-1]) ? {ACC_BITS{1'b0}} : fa;
            wire signed [VW-1:0] frv = {{(VW-ACC_BITS){fr[ACC_BITS-1]}}, fr};
            wire signed [7:0] sha = m_ac[19 + gp*8 +: 8];
            wire signed [31:0] shai = {{24{sha[7]}}, sha};
            reg  signed [ACC_BITS-1:0] fit;
            reg  signed [VW-1:0] fit_r;  // fit + the addend (fit itself for a left shift)
            always @(posedge clk)
                if (m_ac[0] && m_ac[1]) begin
                    fit <= fr;
                    fit_r <= (shai > 0) ? frv + hwsr_round_addend(frv, (shai > ACC_BITS + 1)
                                                                      ? ACC_BITS + 1 : shai)
                                        : frv;
                end
            // rounding shift by the channel's shift (a negative one shifts left), saturation
            wire signed [7:0] sh = m_ft[18 + gp*8 +: 8];
            wire signed [31:0] shi = {{24{sh[7]}}, sh};
            reg  signed [VW-1:0] q;
            always @* begin
                if (shi > 0)
                    q = fit_r >>> ((shi > ACC_BITS + 1) ? ACC_BITS + 1 : shi);
                else
                    q = fit_r <<< ((-shi > OUT_BITS) ? OUT_BITS : -shi);
                if (q > $signed(OMAX)) q = OMAX;
                if (q < $signed(OMIN)) q = OMIN;
            end
            reg [OUT_BITS-1:0] rq;
            reg [ACC_BITS-1:0] rq_acc;
            always @(posedge clk)
                if (m_ft[0]) begin
                    rq <= q[OUT_BITS-1:0];
                    rq_acc <= fit;
                end
            if (PROBE != 0) begin : g_p
                assign lanes[gp*LW +: LW] = {rq_acc, rq};
            end else begin : g_np
                assign lanes[gp*LW +: LW] = rq;
            end
        end
    endgenerate

    // ---- output words: lanes of group g into the stage's word; the FIFO takes it whole ----
    // A word lane is the output code and, with PROBE = 1, the accumulator probe above it.
    wire [15:0] rg = m_rq[17:2];
    wire [COUT0*LW-1:0] word0;
    wire [COUT1*LW-1:0] word1;
    reg push0, push1;
    assign done0 = push0;
    assign done1 = push1;
    always @(posedge clk) begin
        push0 <= !rst && m_rq[0] && !m_rq[1] && rg == NG0_16 - 16'd1;
        push1 <= !rst && m_rq[0] && m_rq[1] && rg == NG1_16 - 16'd1;
    end
    generate  // a demultiplexer over the groups: lane p of group g is channel g*PE + p
        for (gg = 0; gg < NGM; gg = gg + 1) begin : g_word
            localparam integer G = gg;
            for (gp = 0; gp < PE; gp = gp + 1) begin : g_p
                if (G*PE + gp < COUT0) begin : g_0
                    reg [LW-1:0] w;
                    always @(posedge clk)
                        if (m_rq[0] && !m_rq[1] && rg == G[15:0]) w <= lanes[gp*LW +: LW];
                    assign word0[(G*PE + gp)*LW +: LW] = w;
                end
                if (NS > 1 && G*PE + gp < COUT1) begin : g_1
                    reg [LW-1:0] w;
                    always @(posedge clk)
                        if (m_rq[0] && m_rq[1] && rg == G[15:0]) w <= lanes[gp*LW +: LW];
                    assign word1[(G*PE + gp)*LW +: LW] = w;
                end
            end
        end
    endgenerate

    wire [COUT0*LW-1:0] f0_out;
    hwsr_fifo #(.WIDTH(COUT0*LW), .DEPTH(FD)) u_f0 (
        .clk(clk), .rst(rst), .s_valid(push0), .s_data(word0), .count(cnt0),
        .m_valid(m0_valid), .m_ready(m0_ready), .m_data(f0_out));
    genvar gc;
    generate
        for (gc = 0; gc < COUT0; gc = gc + 1) begin : g_o0
            assign m0_data[gc*OUT_BITS +: OUT_BITS] = f0_out[gc*LW +: OUT_BITS];
            if (PROBE != 0) begin : g_p
                assign m0_acc[gc*ACC_BITS +: ACC_BITS] = f0_out[gc*LW + OUT_BITS +: ACC_BITS];
            end else begin : g_np
                assign m0_acc[gc*ACC_BITS +: ACC_BITS] = {ACC_BITS{1'b0}};
            end
        end
        if (NS > 1) begin : g_s1
            wire [COUT1*LW-1:0] f1_out;
            hwsr_fifo #(.WIDTH(COUT1*LW), .DEPTH(FD)) u_f1 (
                .clk(clk), .rst(rst), .s_valid(push1), .s_data(word1),
                .count(cnt1), .m_valid(m1_valid), .m_ready(m1_ready), .m_data(f1_out));
            for (gc = 0; gc < COUT1; gc = gc + 1) begin : g_o1
                assign m1_data[gc*OUT_BITS +: OUT_BITS] = f1_out[gc*LW +: OUT_BITS];
                if (PROBE != 0) begin : g_p
                    assign m1_acc[gc*ACC_BITS +: ACC_BITS] = f1_out[gc*LW + OUT_BITS +: ACC_BITS];
                end else begin : g_np
                    assign m1_acc[gc*ACC_BITS +: ACC_BITS] = {ACC_BITS{1'b0}};
                end
            end
        end else begin : g_s0
            assign cnt1 = 8'd0;
            assign m1_valid = 1'b0;
            assign m1_data = {COUT1*OUT_BITS{1'b0}};
            assign m1_acc = {COUT1*ACC_BITS{1'b0}};
            assign word1 = {COUT1*LW{1'b0}};
        end
    endgenerate
endmodule
`default_nettype wire
