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
`include "hwsr_round_shift.vh"

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
    integer pa, pl, pr;
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
    wire [7:0] cnt0, cnt1;
    reg  [7:0] fly0, fly1;  // pixels started and not yet in the FIFO
    reg        busy, sel, turn;
    reg [15:0] g, j;
    wire ok0 = a_valid && (cnt0 + fly0 < FD);
    wire ok1 = (NS > 1) && b_valid && (cnt1 + fly1 < FD);
    wire pick = (ok1 && (!ok0 || turn)) ? 1'b1 : 1'b0;
    wire issue = busy || ok0 || ok1;
    wire cur = busy ? sel : pick;
    wire [15:0] cg = busy ? g : 16'd0;
    wire [15:0] cj = busy ? j : 16'd0;
    wire [15:0] ng = cur ? NG1 : NG0;
    wire last = cj == NCH - 1 && cg == ng - 1;
    wire start = !busy && issue;
    assign a_ready = issue && last && !cur;
    assign b_ready = issue && last && cur;
    wire done0, done1;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0; sel <= 1'b0; turn <= 1'b0; g <= 0; j <= 0; fly0 <= 0; fly1 <= 0;
        end else begin
            if (issue) begin
                busy <= !last;
                sel <= cur;
                j <= (cj == NCH - 1) ? 16'd0 : cj + 16'd1;
                g <= (cj == NCH - 1) ? cg + 16'd1 : cg;
                if (last) turn <= !cur;
            end
            fly0 <= fly0 + ((start && !pick) ? 8'd1 : 8'd0) - (done0 ? 8'd1 : 8'd0);
            fly1 <= fly1 + ((start && pick) ? 8'd1 : 8'd0) - (done1 ? 8'd1 : 8'd0);
        end
    end

    // ---- issue: operands of every lane, and this group's weight, bias and shift words ----
    wire [K*K*CIN*IN_BITS-1:0] wd = cur ? b_data : a_data;
    wire [K*K-1:0]             wm = cur ? b_mask : a_mask;
    reg  [15:0] wa;  // weight address of the step after this one (a counter)
    wire [15:0] cwa = busy ? wa : (pick ? NG0 * NCH : 16'd0);
    wire [15:0] bank_b = cur ? NG0 : 16'd0;
    reg  [PE*SIMD*W_BITS-1:0] wq;
    reg  [IN_BITS:0] xq [0:PE*SIMD-1];  // zero- or sign-extended codes
    reg  [MW-1:0] m_is;
    reg  [IN_BITS-1:0] xc;
    integer p, e, f, grp, src, jj, gg;
    always @(posedge clk) begin
        m_is <= {MW{1'b0}};
        if (!rst && issue) begin
            wq <= wmem[cwa][PE*SIMD*W_BITS-1:0];
            wa <= cwa + 16'd1;
            m_is <= {bmem[bank_b + cg][PE*B_BITS-1:0], smem[bank_b + cg][PE*8-1:0], cg, cur, cj == NCH - 1,
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
            // Each operand is a mux over the chunks (and, grouped, the channel groups) with
            // constant window indices: no index arithmetic on the registers.
            if (!PACK) for (p = 0; p < PE; p = p + 1)
                for (e = 0; e < SIMD; e = e + 1) begin
                    xc = {IN_BITS{1'b0}};
                    for (jj = 0; jj < NCH; jj = jj + 1)
                        for (gg = 0; gg < ((GROUPS == 1) ? 1 : NGM); gg = gg + 1)
                            if (cj == jj && (GROUPS == 1 || cg == gg)) begin
                                f = jj*SIMD + e;
                                grp = (GROUPS == 1) ? 0 : (gg*PE + p) / GO;
                                src = (f / GC)*CIN + grp*GC + f % GC;
                                if (grp < GROUPS && wm[f / GC])
                                    xc = wd[src*IN_BITS +: IN_BITS];
                            end
                    xq[p*SIMD + e] <= IN_SIGNED ? {xc[IN_BITS-1], xc} : {1'b0, xc};
                end
        end
    end

    // ---- products (the first level of tr, below) ----
    reg  [MW-1:0] m_pr;
    always @(posedge clk) m_pr <= rst ? {MW{1'b0}} : m_is;

    // ---- adder tree: levels of pairwise sums per lane, a register every TREE_K levels ----
    // tr holds the registered levels: r = 0 the products, r = 1..NTR after r*TREE_K levels.
    reg signed [SUM_BITS-1:0] tr [0:(NTR+1)*PE*SIMD-1];
    reg signed [SUM_BITS-1:0] tt [0:SIMD-1];
    wire [MW*(NTR+1)-1:0] m_tr;
    assign m_tr[MW-1:0] = m_pr;
    genvar gl;
    generate
        for (gl = 0; gl < NTR; gl = gl + 1) begin : g_mtr
            reg [MW-1:0] r;
            always @(posedge clk) r <= rst ? {MW{1'b0}} : m_tr[gl*MW +: MW];
            assign m_tr[(gl+1)*MW +: MW] = r;
        end
    endgenerate
    wire [MW-1:0] m_ts = m_tr[NTR*MW +: MW];
    // Loop bounds are constants (SIMD, TREE_K, LEV); the live width n_t of a level is a guard.
    integer r, lv_t, i_t, n_t, p_t;
    reg signed [W_BITS+IN_BITS:0] pm;
    always @(posedge clk) begin
`ifdef HWSR_PACKED_MAC
        if (PACK)
            for (pr = 0; pr <= NTR; pr = pr + 1)
                if ((pr == 0) ? m_is[0] : m_tr[(pr-1)*MW])
                    for (pl = 0; pl < PE; pl = pl + 1) ps[(pr+1)*PE + pl] <= ps[pr*PE + pl];
`endif
        if (!PACK && m_is[0])
            for (i_t = 0; i_t < PE*SIMD; i_t = i_t + 1)
            begin  // a W_BITS x (IN_BITS+1) multiplier, then sign-extended into the tree
                pm = $signed(wq[i_t*W_BITS +: W_BITS]) * $signed(xq[i_t]);
                tr[i_t] <= pm;
            end
        for (r = 1; r <= NTR; r = r + 1)
            if (!PACK && m_tr[(r-1)*MW])
                for (p_t = 0; p_t < PE; p_t = p_t + 1) begin
                    n_t = (SIMD + (1 << ((r-1)*TREE_K)) - 1) >> ((r-1)*TREE_K);
                    for (i_t = 0; i_t < SIMD; i_t = i_t + 1) tt[i_t] = tr[((r-1)*PE + p_t)*SIMD + i_t];
                    for (lv_t = 0; lv_t < TREE_K; lv_t = lv_t + 1) begin
                        for (i_t = 0; i_t < SIMD; i_t = i_t + 1)
                            if (i_t < (n_t + 1) / 2)
                                tt[i_t] = tt[2*i_t] + ((2*i_t + 1 < n_t) ? tt[2*i_t + 1] : 0);
                        n_t = (n_t + 1) / 2;
                    end
                    for (i_t = 0; i_t < SIMD; i_t = i_t + 1)
                        if (i_t < n_t) tr[(r*PE + p_t)*SIMD + i_t] <= tt[i_t];
                end
    end

    // ---- accumulator, fit and ReLU, rounding shift, saturation ----
    reg  [MW-1:0] m_ac, m_ft, m_rq;
    reg  signed [SUM_BITS-1:0] acc [0:PE-1];
    reg  signed [VW-1:0] fit [0:PE-1];
    reg  signed [VW-1:0] rq [0:PE-1];
    reg  [ACC_BITS-1:0]  rq_acc [0:PE-1];
    reg  signed [SUM_BITS-1:0] sm, amax, amin;
    reg  signed [SUM_BITS-1:0] ta [0:SIMD-1];
    reg  signed [VW-1:0] v, q, one, omax, omin;
    reg  signed [7:0] sh;
    integer rs, p_a, i_a, n_a, lv_a;
    always @(posedge clk) begin
        m_ac <= rst ? {MW{1'b0}} : m_ts;
        m_ft <= rst ? {MW{1'b0}} : ((m_ac[0] && m_ac[2]) ? m_ac : {MW{1'b0}});
        m_rq <= rst ? {MW{1'b0}} : m_ft;
        amax = {{(SUM_BITS-ACC_BITS+1){1'b0}}, {(ACC_BITS-1){1'b1}}};
        amin = ~amax;
        one = 1;
        omax = OUT_SIGNED ? (one <<< (OUT_BITS - 1)) - one : (one <<< OUT_BITS) - one;
        omin = OUT_SIGNED ? -(one <<< (OUT_BITS - 1)) : 0;
        for (p_a = 0; p_a < PE; p_a = p_a + 1) begin
            if (m_ts[0]) begin  // the tree's levels after its last register
                n_a = (SIMD + (1 << (NTR*TREE_K)) - 1) >> (NTR*TREE_K);
                for (i_a = 0; i_a < SIMD; i_a = i_a + 1)
                    if (!PACK) ta[i_a] = tr[(NTR*PE + p_a)*SIMD + i_a];
                for (lv_a = NTR*TREE_K; lv_a < LEV && !PACK; lv_a = lv_a + 1) begin
                    for (i_a = 0; i_a < SIMD; i_a = i_a + 1)
                        if (i_a < (n_a + 1) / 2)
                            ta[i_a] = ta[2*i_a] + ((2*i_a + 1 < n_a) ? ta[2*i_a + 1] : 0);
                    n_a = (n_a + 1) / 2;
                end
`ifdef HWSR_PACKED_MAC
                if (PACK) ta[0] = ps[(NTR+1)*PE + p_a];
`endif
                acc[p_a] <= (m_ts[1] ? $signed(m_ts[20 + PE*8 + p_a*B_BITS +: B_BITS]) : acc[p_a])
                          + ta[0];
            end
            if (m_ac[0] && m_ac[2]) begin
                sm = acc[p_a];
                if (ACC_SAT != 0)
                    v = (sm > amax) ? amax : (sm < amin) ? amin : sm;
                else
                    v = $signed(sm[ACC_BITS-1:0]);
                if (RELU != 0 && v < 0) v = 0;
                fit[p_a] <= v;
            end
            if (m_ft[0]) begin
                sh = m_ft[20 + p_a*8 +: 8];
                if (sh > 0) begin
                    rs = (sh > ACC_BITS + 1) ? ACC_BITS + 1 : sh;
                    q = hwsr_round_shift(fit[p_a], rs);
                end else begin
                    rs = (-sh > OUT_BITS) ? OUT_BITS : -sh;
                    q = fit[p_a] <<< rs;
                end
                if (q > omax) q = omax;
                if (q < omin) q = omin;
                rq[p_a] <= q;
                rq_acc[p_a] <= fit[p_a][ACC_BITS-1:0];
            end
        end
    end

    // ---- output words: lanes of group g into the stage's word; the FIFO takes it whole ----
    // A word lane is the output code and, with PROBE = 1, the accumulator probe above it.
    localparam integer LW = OUT_BITS + (PROBE ? ACC_BITS : 0);
    reg [NG0*PE*LW-1:0] word0;
    reg [NGM*PE*LW-1:0] word1;
    reg push0, push1;
    integer p_o, g_o;
    wire [15:0] rg = m_rq[19:4];
    assign done0 = push0;
    assign done1 = push1;
    always @(posedge clk) begin
        push0 <= !rst && m_rq[0] && !m_rq[3] && rg == NG0 - 1;
        push1 <= !rst && m_rq[0] && m_rq[3] && rg == NG1 - 1;
        if (m_rq[0])
            for (g_o = 0; g_o < NGM; g_o = g_o + 1)  // a demultiplexer over the groups
                if (rg == g_o)
                    for (p_o = 0; p_o < PE; p_o = p_o + 1)
                        if (m_rq[3])
                            word1[(g_o*PE + p_o)*LW +: LW] <= {rq_acc[p_o], rq[p_o][OUT_BITS-1:0]};
                        else if (g_o < NG0)
                            word0[(g_o*PE + p_o)*LW +: LW] <= {rq_acc[p_o], rq[p_o][OUT_BITS-1:0]};
    end

    wire [COUT0*LW-1:0] f0_out;
    hwsr_fifo #(.WIDTH(COUT0*LW), .DEPTH(FD)) u_f0 (
        .clk(clk), .rst(rst), .s_valid(push0), .s_data(word0[COUT0*LW-1:0]), .count(cnt0),
        .m_valid(m0_valid), .m_ready(m0_ready), .m_data(f0_out));
    genvar gc;
    generate
        for (gc = 0; gc < COUT0; gc = gc + 1) begin : g_o0
            assign m0_data[gc*OUT_BITS +: OUT_BITS] = f0_out[gc*LW +: OUT_BITS];
            if (PROBE) begin : g_p
                assign m0_acc[gc*ACC_BITS +: ACC_BITS] = f0_out[gc*LW + OUT_BITS +: ACC_BITS];
            end else begin : g_np
                assign m0_acc[gc*ACC_BITS +: ACC_BITS] = {ACC_BITS{1'b0}};
            end
        end
        if (NS > 1) begin : g_s1
            wire [COUT1*LW-1:0] f1_out;
            hwsr_fifo #(.WIDTH(COUT1*LW), .DEPTH(FD)) u_f1 (
                .clk(clk), .rst(rst), .s_valid(push1), .s_data(word1[COUT1*LW-1:0]),
                .count(cnt1), .m_valid(m1_valid), .m_ready(m1_ready), .m_data(f1_out));
            for (gc = 0; gc < COUT1; gc = gc + 1) begin : g_o1
                assign m1_data[gc*OUT_BITS +: OUT_BITS] = f1_out[gc*LW +: OUT_BITS];
                if (PROBE) begin : g_p
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
        end
    endgenerate
endmodule
`default_nettype wire
