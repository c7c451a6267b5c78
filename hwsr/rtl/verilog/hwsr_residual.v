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
    output wire [3*R*R*8-1:0]          m_data
);
    localparam integer AB = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer SW = ((CONV_BITS + LC > 9 + LI) ? CONV_BITS + LC : 9 + LI) + 3;
    localparam integer RSW = SW;
    localparam integer LAST = DEPTH - 1;  // the last slot's address
`include "hwsr_round_shift.vh"

    reg [23:0]   mem [0:DEPTH-1];
    reg [AB-1:0] wr, rd;
    reg [AB:0]   count;
    wire fire = s_valid && count != 0 && (!m_valid || m_ready);
    assign s_ready = count != 0 && (!m_valid || m_ready);
    assign px_full = count == DEPTH[AB:0] && !fire;  // a pop frees the slot in the same cycle
    wire [23:0] head = mem[rd];

    always @(posedge clk) if (px_push) mem[wr] <= px_data;

    always @(posedge clk) begin
        if (rst) begin
            wr <= {AB{1'b0}}; rd <= {AB{1'b0}}; count <= {(AB+1){1'b0}};
        end else begin
            if (px_push) wr <= (wr == LAST[AB-1:0]) ? {AB{1'b0}} : wr + 1'b1;
            if (fire) rd <= (rd == LAST[AB-1:0]) ? {AB{1'b0}} : rd + 1'b1;
            count <= count + {{AB{1'b0}}, px_push} - {{AB{1'b0}}, fire};
        end
    end

    // The output register holds a block until the consumer takes it.
    always @(posedge clk)
        if (rst) m_valid <= 1'b0;
        else if (fire) m_valid <= 1'b1;
        else if (m_ready) m_valid <= 1'b0;

    // Per HR pixel (channel c, block position k): conv code, residual add, rounding shift,
    // saturation to 0..255, into the output register.
    localparam [SW-1:0] MAXPIX = {{(SW-8){1'b0}}, 8'hff};
    genvar gc, gk;
    generate
        for (gc = 0; gc < 3; gc = gc + 1) begin : g_c
            for (gk = 0; gk < R*R; gk = gk + 1) begin : g_k
                wire [CONV_BITS-1:0] yc = s_data[(gc*R*R + gk)*CONV_BITS +: CONV_BITS];
                wire signed [SW-1:0] y = {{(SW-CONV_BITS){(CONV_SIGNED != 0) && yc[CONV_BITS-1]}},
                                          yc};
                wire signed [SW-1:0] x = {{(SW-8){1'b0}}, head[gc*8 +: 8]};
                wire signed [SW-1:0] s = (y <<< LC) + ((RESIDUAL != 0) ? x <<< LI : {SW{1'b0}});
                reg  signed [SW-1:0] q;
                always @* begin
                    if (OS > 0) q = hwsr_round_shift(s, OS);
                    else q = s;
                    if (q[SW-1]) q = {SW{1'b0}};
                    else if (q > $signed(MAXPIX)) q = MAXPIX;
                end
                reg [7:0] px;
                always @(posedge clk) if (!rst && fire) px <= q[7:0];
                assign m_data[(gk*3 + gc)*8 +: 8] = px;
            end
        end
    endgenerate
endmodule
`default_nettype wire
