// hwsr_round_shift: the engine's rounding right shift, the one home of it in the RTL.
// Returns v / 2**s rounded as the program says, for s >= 1: ROUND = 0 half-up
// ((v + 2**(s-1)) >>> s, ties toward +inf), ROUND = 1 half-even (ties to the even
// neighbour). RSW (the including module's localparam) leaves one spare bit above v.
// The emitter pastes this text where a module includes it, so emitted files stand alone.
function automatic signed [RSW-1:0] hwsr_round_shift;
    input signed [RSW-1:0] v;
    input integer s;
    reg signed [RSW-1:0] q, rem, half, one;
    begin
        one = 1;
        half = one <<< (s - 1);
        if (ROUND == 0) begin
            q = (v + half) >>> s;
        end else begin
            q = v >>> s;
            rem = v - (q <<< s);
            if (rem > half || (rem == half && q[0])) q = q + one;
        end
        hwsr_round_shift = q;
    end
endfunction
