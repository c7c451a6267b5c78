// hwsr_residual: the global residual and pixel shuffle at the end of one engine stage.
//
// The stage's input pixels enter a delay line (a FIFO of DEPTH pixels) when the stage
// accepts them, and leave when the last conv layer's output at the same position arrives:
// the nearest-neighbour path of the residual, aligned by the stream order itself. For
// each of the 3*R*R conv channels o = c*R*R + dy*R + dx (the program's channel order):
//   s     = (y[o] << LC) + (x[c] << LI)        (x term only with RESIDUAL = 1)
//   pixel = sat_u8(round_shift(s, OS))          ROUND = 0 half-up, 1 half-even
// and the pixel shuffle is a wiring: m_data holds the R x R block of HR pixels of one LR
// position, HR pixel (dy, dx) in bits [((dy*R + dx)*3 + c)*8 +: 8] (channel 0 lowest).
// One output register; with R = 1 m_data is one pixel in the stage input's format.
`default_nettype none
module hwsr_residual #(
    parameter integer R = 3,           // pixel-shuffle factor
    parameter integer CONV_BITS = 10,  // width of the last conv layer's codes
    parameter integer CONV_SIGNED = 1, // those codes are two's complement
    parameter integer RESIDUAL = 1,    // add the nearest-neighbour input
    parameter integer LC = 0,          // left shift of the conv codes to the common frac
    parameter integer LI = 4,          // left shift of the input pixels to the common frac
    parameter integer OS = 4,          // right shift of the sum to the pixel's frac 8
    parameter integer ROUND = 0,       // 0 half-up, 1 half-even
    parameter integer DEPTH = 16       // delay-line pixels
) (
    input  wire                        clk,
    input  wire                        rst,
    input  wire                        px_push,   // the stage accepted a pixel
    input  wire [23:0]                 px_data,
    output wire                        px_full,   // the delay line cannot take a pixel now
    input  wire                        s_valid,
    output wire                        s_ready,
    input  wire [3*R*R*CONV_BITS-1:0]  s_data,
    output reg                         m_valid,
    input  wire                        m_ready,
    output reg  [3*R*R*8-1:0]          m_data
);
    localparam integer AB = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer SW = ((CONV_BITS + LC > 9 + LI) ? CONV_BITS + LC : 9 + LI) + 3;
    localparam integer RSW = SW;
`include "hwsr_round_shift.vh"

    reg [23:0]   mem [0:DEPTH-1];
    reg [AB-1:0] wr, rd;
    reg [AB:0]   count;
    wire fire = s_valid && count != 0 && (!m_valid || m_ready);
    assign s_ready = count != 0 && (!m_valid || m_ready);
    assign px_full = count == DEPTH && !fire;  // a pop frees the slot in the same cycle
    wire [23:0] head = mem[rd];

    always @(posedge clk) if (px_push) mem[wr] <= px_data;

    always @(posedge clk) begin
        if (rst) begin
            wr <= 0; rd <= 0; count <= 0;
        end else begin
            if (px_push) wr <= (wr == DEPTH - 1) ? {AB{1'b0}} : wr + 1'b1;
            if (fire) rd <= (rd == DEPTH - 1) ? {AB{1'b0}} : rd + 1'b1;
            count <= count + (px_push ? 1'b1 : 1'b0) - (fire ? 1'b1 : 1'b0);
        end
    end

    // The output register holds a block until the consumer takes it.
    always @(posedge clk)
        if (rst) m_valid <= 1'b0;
        else if (fire) m_valid <= 1'b1;
        else if (m_ready) m_valid <= 1'b0;

    reg signed [SW-1:0] y, s, q;
    integer c, k;
    always @(posedge clk)
        if (!rst && fire)
            for (c = 0; c < 3; c = c + 1)
                for (k = 0; k < R*R; k = k + 1) begin
                    y = CONV_SIGNED ? $signed(s_data[(c*R*R + k)*CONV_BITS +: CONV_BITS])
                                    : $signed({1'b0, s_data[(c*R*R + k)*CONV_BITS +: CONV_BITS]});
                    s = y <<< LC;
                    if (RESIDUAL != 0) s = s + ($signed({1'b0, head[c*8 +: 8]}) <<< LI);
                    q = s;
                    if (OS > 0) q = hwsr_round_shift(s, OS);
                    if (q < 0) q = 0;
                    if (q > 255) q = 255;
                    m_data[(k*3 + c)*8 +: 8] <= q[7:0];
                end
endmodule
`default_nettype wire
