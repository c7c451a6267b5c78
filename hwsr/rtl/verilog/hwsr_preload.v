// hwsr_preload: start the folded engine's memories preloaded (simulation, FPGA block-RAM
// initialisation), instead of writing the program through the load port.
//
// Not part of the synthesizable design (files.f): compile this file first, before the
// design's sources (files_preload.f lists them in that order). It defines the macro that
// hwsr_mac expands, so each MAC unit reads its weight, bias and shift memories with
// $readmemh from HWSR_ROM_DIR/unit<UNIT>.{weight,bias,shift}.hex (two-digit unit number),
// the images `hwsr rtl` writes under rom/. Define HWSR_ROM_DIR (with a trailing slash)
// before this file to read them from elsewhere; the default is relative to the simulator's
// working folder.
`ifndef HWSR_ROM_DIR
`define HWSR_ROM_DIR "rom/"
`endif
`define HWSR_PRELOAD_MAC \
    localparam integer PRE_D1 = 48 + UNIT / 10; \
    localparam integer PRE_D0 = 48 + UNIT % 10; \
    initial begin : preload \
        $readmemh({`HWSR_ROM_DIR, "unit", PRE_D1[7:0], PRE_D0[7:0], ".weight.hex"}, wmem); \
        $readmemh({`HWSR_ROM_DIR, "unit", PRE_D1[7:0], PRE_D0[7:0], ".bias.hex"}, bmem); \
        $readmemh({`HWSR_ROM_DIR, "unit", PRE_D1[7:0], PRE_D0[7:0], ".shift.hex"}, smem); \
    end
