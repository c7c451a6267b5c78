// hwsr_fifo: the registered stream boundary after a MAC unit (one per stage it serves).
//
// DEPTH words; s_valid pushes (the writer never pushes into a full FIFO: it reserves a slot
// for every pixel it starts, from `count`), m_valid/m_ready pops. m_valid and m_data come
// from registers, so no combinational path leads from m_ready to the writer: the MAC unit's
// ready path ends here.
`default_nettype none
module hwsr_fifo #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 4
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             s_valid,
    input  wire [WIDTH-1:0] s_data,
    output reg  [7:0]       count,
    output wire             m_valid,
    input  wire             m_ready,
    output wire [WIDTH-1:0] m_data
);
    localparam integer AB = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer LAST = DEPTH - 1;  // the last word's address
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AB-1:0] wr, rd;
    wire pop = m_valid && m_ready;
    assign m_valid = count != 0;
    assign m_data = mem[rd];
    always @(posedge clk) if (s_valid) mem[wr] <= s_data;
    always @(posedge clk) begin
        if (rst) begin
            wr <= {AB{1'b0}}; rd <= {AB{1'b0}}; count <= 8'd0;
        end else begin
            if (s_valid) wr <= (wr == LAST[AB-1:0]) ? {AB{1'b0}} : wr + 1'b1;
            if (pop) rd <= (rd == LAST[AB-1:0]) ? {AB{1'b0}} : rd + 1'b1;
            count <= count + (s_valid ? 8'd1 : 8'd0) - (pop ? 8'd1 : 8'd0);
        end
    end
endmodule
`default_nettype wire
