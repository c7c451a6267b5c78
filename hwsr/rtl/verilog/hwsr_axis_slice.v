// hwsr_axis_slice: an AXI4-Stream register slice (a full-throughput skid buffer).
//
// Every output (m_axis_tvalid/tdata/tuser/tlast and s_axis_tready) comes from a register,
// so neither side's ready reaches the other combinationally: the stream boundary is cut.
// Two words of storage: the output register and a skid register that catches the word
// accepted in the cycle the sink stopped taking them (s_axis_tready is registered, so it
// falls one cycle late). One transfer per clock when the sink is always ready.
`default_nettype none
module hwsr_axis_slice #(
    parameter integer DATA_W = 24
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              s_axis_tvalid,
    output reg               s_axis_tready,
    input  wire [DATA_W-1:0] s_axis_tdata,
    input  wire              s_axis_tuser,
    input  wire              s_axis_tlast,
    output reg               m_axis_tvalid,
    input  wire              m_axis_tready,
    output reg  [DATA_W-1:0] m_axis_tdata,
    output reg               m_axis_tuser,
    output reg               m_axis_tlast
);
    localparam integer W = DATA_W + 2;  // data, tuser, tlast
    reg [W-1:0] skid;
    reg skid_valid;
    wire [W-1:0] in_word = {s_axis_tlast, s_axis_tuser, s_axis_tdata};
    wire take = s_axis_tvalid && s_axis_tready;
    wire give = !m_axis_tvalid || m_axis_tready;  // the output register is free this edge

    always @(posedge clk) begin
        if (rst) begin
            m_axis_tvalid <= 1'b0;
            s_axis_tready <= 1'b0;
            skid_valid <= 1'b0;
        end else begin
            if (give) begin
                // the skid word goes first (it arrived earlier), else the input word
                m_axis_tvalid <= skid_valid || take;
                skid_valid <= 1'b0;
            end else if (take) begin
                skid_valid <= 1'b1;
            end
            // ready for a word next cycle unless the skid holds one (or will)
            s_axis_tready <= give ? 1'b1 : !(skid_valid || take);
        end
    end

    always @(posedge clk) begin
        if (give)
            {m_axis_tlast, m_axis_tuser, m_axis_tdata} <= skid_valid ? skid : in_word;
        else if (take)
            skid <= in_word;
    end
endmodule
`default_nettype wire
