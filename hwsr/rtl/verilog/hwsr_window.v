// hwsr_window: the line buffers and window of one folded k x k layer (no arithmetic).
//
// The front half of hwsr_conv, the same slot stream: pixels in raster order, S-1 line
// buffers of MAXW words (S = DIL*(K-1)+1), a window register of the newest S columns of the
// K tapped rows; the window of slot n is centred on output pixel n - D, D = P*W + P. After the
// frame's last pixel the window runs D more slots without input (s_ready low). Instead of a
// MAC array it offers each output pixel's K*K taps to a MAC unit (hwsr_mac) and holds them
// until the unit takes them (w_valid/w_ready, w_ready high on the unit's last cycle of the
// pixel). Taps outside the frame are flagged in w_mask (zero padding at all four borders);
// w_data carries tap t = ky*K + kx, channel c at [(t*CIN + c)*IN_BITS +: IN_BITS].
`default_nettype none
module hwsr_window #(
    parameter integer K = 3,            // kernel size (odd)
    parameter integer CIN = 3,          // input channels
    parameter integer DIL = 1,          // tap spacing in pixels
    parameter integer IN_BITS = 8,      // input code width
    parameter integer MAXW = 64         // line-buffer depth: the widest frame
) (
    input  wire                       clk,
    input  wire                       rst,
    input  wire [15:0]                cfg_width,
    input  wire [15:0]                cfg_height,
    input  wire                       s_valid,
    output wire                       s_ready,
    input  wire [CIN*IN_BITS-1:0]     s_data,
    output wire                       w_valid,
    input  wire                       w_ready,
    output wire [K*K*CIN*IN_BITS-1:0] w_data,
    output reg  [K*K-1:0]             w_mask
);
    localparam integer S = DIL * (K - 1) + 1;
    localparam integer P = S / 2;
    localparam integer PIX = CIN * IN_BITS;
    localparam integer LBN = (S > 1) ? S - 1 : 1;
    localparam integer XB = (MAXW > 1) ? $clog2(MAXW) : 1;

    reg  [15:0] xi, in_x, in_y, out_x, out_y;
    reg         in_done, s1_valid;
    reg  [31:0] lag;
    reg  [IN_BITS-1:0] win [0:K*S*CIN-1];

    wire [31:0] lag_d = P * cfg_width + P;
    wire s1_move = s1_valid && w_ready;
    wire s1_free = !s1_valid || s1_move;
    wire adv = s1_free && (in_done || s_valid);
    assign s_ready = s1_free && !in_done && !rst;
    assign w_valid = s1_valid;
    wire [PIX-1:0] pix_new = in_done ? {PIX{1'b0}} : s_data;
    wire last_out = (lag == lag_d) && out_x == cfg_width - 1 && out_y == cfg_height - 1;

    wire [LBN*PIX-1:0] lb_rd;
    genvar j, t, c;
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
        for (t = 0; t < K*K; t = t + 1) begin : g_tap
            for (c = 0; c < CIN; c = c + 1) begin : g_ch
                assign w_data[(t*CIN + c)*IN_BITS +: IN_BITS] =
                    win[((t / K)*S + (t % K)*DIL)*CIN + c];
            end
        end
    endgenerate

    // The border mask of the next output pixel: tap (my, mx) reads frame row
    // out_y + my*DIL - P and column out_x + mx*DIL - P; outside the frame it is padding.
    wire [K*K-1:0] mask_n;
    genvar my, mx;
    generate
        for (my = 0; my < K; my = my + 1) begin : g_my
            localparam integer DY = my*DIL - P;
            wire signed [17:0] ty = $signed({2'b0, out_y}) + $signed(DY[17:0]);
            for (mx = 0; mx < K; mx = mx + 1) begin : g_mx
                localparam integer DX = mx*DIL - P;
                wire signed [17:0] tx = $signed({2'b0, out_x}) + $signed(DX[17:0]);
                assign mask_n[my*K + mx] = !ty[17] && ty < $signed({2'b0, cfg_height})
                                           && !tx[17] && tx < $signed({2'b0, cfg_width});
            end
        end
    endgenerate

    integer ky, kx, ch;
    always @(posedge clk) begin
        if (adv) begin
            for (ky = 0; ky < K; ky = ky + 1) begin
                for (kx = 0; kx < S - 1; kx = kx + 1)
                    for (ch = 0; ch < CIN; ch = ch + 1)
                        win[(ky*S + kx)*CIN + ch] <= win[(ky*S + kx + 1)*CIN + ch];
                for (ch = 0; ch < CIN; ch = ch + 1)
                    if (ky*DIL == S - 1)
                        win[(ky*S + S - 1)*CIN + ch] <= pix_new[ch*IN_BITS +: IN_BITS];
                    else
                        win[(ky*S + S - 1)*CIN + ch]
                            <= lb_rd[(S-2-ky*DIL)*PIX + ch*IN_BITS +: IN_BITS];
            end
        end
    end

    // Slot and position counters; the border mask is registered with the window.
    always @(posedge clk) begin
        if (rst) begin
            xi <= 0; in_x <= 0; in_y <= 0; in_done <= 1'b0; lag <= 0;
            out_x <= 0; out_y <= 0; s1_valid <= 1'b0; w_mask <= 0;
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
                    s1_valid <= 1'b1;
                    w_mask <= mask_n;
                    out_x <= (out_x == cfg_width - 1) ? 16'd0 : out_x + 16'd1;
                    if (out_x == cfg_width - 1) out_y <= out_y + 16'd1;
                end else begin
                    lag <= lag + 1;
                end
                if (last_out) begin
                    xi <= 0; in_x <= 0; in_y <= 0; in_done <= 1'b0; lag <= 0;
                    out_x <= 0; out_y <= 0;
                end
            end
        end
    end
endmodule
`default_nettype wire
