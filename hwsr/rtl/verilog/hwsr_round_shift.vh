// hwsr_round_shift: the engine's rounding right shift, the one home of it in the RTL.
// Returns v / 2**s rounded as the program says, for s >= 1: ROUND = 0 half-up
// ((v + 2**(s-1)) >>> s, ties toward +inf), ROUND = 1 half-even (ties to the even
// neighbour), both as (v + hwsr_round_addend(v, s)) >>> s. RSW (the including module's
// localparam) leaves one spare bit above v.
// The emitter pastes this text where a module includes it, so emitted files stand alone.
function automatic signed [RSW-1:0] hwsr_round_addend;
    // what v / 2**s adds before the arithmetic shift, so that (v + addend) >>> s is the
    // rounded quotient: 2**(s-1) half-up; 2**(s-1) - 1 + bit s of v half-even (a tie
    // rounds up exactly when v >>> s is odd). A pipeline may add it a stage early.
    input signed [RSW-1:0] v;
    input integer s;
    reg signed [RSW-1:0] half, one;
    begin
        one = 1;
        half = one <<< (s - 1);
        hwsr_round_addend = (ROUND == 0) ? half : half - one + {{(RSW-1){1'b0}}, v[s]};
    end
endfunction

function automatic signed [RSW-1:0] hwsr_round_shift;
    input signed [RSW-1:0] v;
    input integer s;
    begin
        hwsr_round_shift = (v + hwsr_round_addend(v, s)) >>> s;
    end
endfunction
