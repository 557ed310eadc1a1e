#!/usr/bin/perl
# cu2cpp.pl IN.cu OUT.cpp: turns a CUDA source into C++ that g++ compiles against the emulator
# (tests/cuda_emu/emu_prelude.h, force-included). Two rewrites, each on one line so that every
# line keeps its number, and a #line directive so that diagnostics name IN.cu:
#   kernel<<<grid, block[, shmem[, stream]]>>>(args)  ->  ::cuda_emu::launcher(kernel, __FILE__,
#       __LINE__, __func__, grid, block[, shmem[, stream]])(args)
#   extern __shared__ T name[];  ->  T *const name = (T *)::cuda_emu::dynamic_shared();
# A launch split over several lines is refused rather than half-rewritten.
use strict;
use warnings;
my ($in, $out) = @ARGV;
die "usage: cu2cpp.pl IN.cu OUT.cpp\n" unless defined $out;
open(my $fi, '<', $in) or die "cu2cpp.pl: $in: $!\n";
my @lines = <$fi>;
close $fi;
my $text = "#line 1 \"$in\"\n";
my $n = 0;
for my $l (@lines) {
    $n++;
    $l =~ s/([A-Za-z_][\w:]*(?:<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(/::cuda_emu::launcher($1, __FILE__, __LINE__, __func__, $2)(/g;
    $l =~ s/extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+(?:\s*\*)?)\s+(\w+)\s*\[\s*\]\s*;/$1 *const $2 = ($1 *)::cuda_emu::dynamic_shared();/g;
    die "cu2cpp.pl: $in:$n: a launch (<<< ... >>>) must be on one line\n" if $l =~ /<<<|>>>/;
    $text .= $l;
}
open(my $fo, '>', $out) or die "cu2cpp.pl: $out: $!\n";
print $fo $text;
close $fo or die "cu2cpp.pl: $out: $!\n";
