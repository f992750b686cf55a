# Real media files for tests, made by Debian's ffmpeg at test time (build.sh
# installs it): the send path probes and transcodes what agents attach, so
# random bytes named photo.jpg would rightly go as a document.
#
#   media_bytes('jpg', $seed)   a JPEG still (testsrc; its width follows the seed)
#   media_bytes('png', $seed)   a PNG still
#   media_bytes('webp', $seed)  a WebP still (sent as a JPEG)
#   media_bytes('mp3', $seed)   one second of a sine (the seed picks the pitch)
#   media_bytes('mp4', $seed)   one second of H.264 video with AAC sound
#   media_bytes('webm', $seed)  two seconds of Opus in WebM: what Chatwoot's
#                               recorder makes in Chrome
#   media_bytes('wav', $seed)   a WAV of a sine
#   ffprobe_streams($bytes)     ffprobe's streams of a file's bytes (array of hashes)
#   ffmpeg_decodes($bytes)      true when ffmpeg decodes every frame of the file
#                               without an error (-v error, to the null muxer)
#   noise_bytes($n, $seed)      $n bytes of a seeded LCG: the same for the same
#                               seed, no media format (a document's content)
#
# Files are made once per (kind, seed) and process, in a private temp dir.
package ChatwootTest::MediaFiles;
use strict;
use warnings;
use Carp qw(croak);
use Exporter 'import';
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);

our @EXPORT_OK = qw(media_bytes ffprobe_streams ffmpeg_decodes noise_bytes);

my $dir;
my %made;

sub _run {
    my @cmd = @_;
    my $out = "$dir/ffmpeg.log";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', $out);
        open(STDERR, '>&', \*STDOUT);
        exec @cmd or exit 127;
    }
    waitpid($pid, 0);
    return if $? == 0;
    my $log = do { local (@ARGV, $/) = ($out); <> } // '';
    croak "@cmd[0..1] failed ($?):\n$log";
}

sub media_bytes {
    my ($kind, $seed) = @_;
    $seed //= 1;
    return $made{"$kind/$seed"} if defined $made{"$kind/$seed"};
    $dir //= tempdir(CLEANUP => 1);
    my $w = 160 + 2 * ($seed % 100);
    my $hz = 220 + 10 * ($seed % 100);
    my $file = "$dir/m$seed.$kind";
    my @ff = ('ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y');
    my %args = (
        jpg  => [-f => 'lavfi', -i => "testsrc=size=${w}x120:rate=1", '-frames:v', 1, $file],
        png  => [-f => 'lavfi', -i => "testsrc=size=${w}x120:rate=1", '-frames:v', 1, $file],
        webp => [-f => 'lavfi', -i => "testsrc=size=${w}x120:rate=1", '-frames:v', 1, '-c:v', 'libwebp', $file],
        mp3  => [-f => 'lavfi', -i => "sine=frequency=$hz:duration=1", '-c:a', 'libmp3lame', $file],
        wav  => [-f => 'lavfi', -i => "sine=frequency=$hz:duration=1", $file],
        webm => [-f => 'lavfi', -i => "sine=frequency=$hz:duration=2", '-c:a', 'libopus', $file],
        mp4  => [-f => 'lavfi', -i => "testsrc=size=${w}x120:rate=10:duration=1",
                 -f => 'lavfi', -i => "sine=frequency=$hz:duration=1",
                 '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
                 '-shortest', '-movflags', '+faststart', $file],
    );
    my $a = $args{$kind} or croak "media_bytes: no kind $kind";
    _run(@ff, @$a);
    open(my $fh, '<:raw', $file) or croak "$file: $!";
    local $/;
    my $bytes = <$fh>;
    return $made{"$kind/$seed"} = $bytes;
}

# $bytes into a file of the temp dir named $name; returns its path.
sub _to_file {
    my ($name, $bytes) = @_;
    $dir //= tempdir(CLEANUP => 1);
    my $file = "$dir/$name";
    open(my $fh, '>:raw', $file) or croak "$file: $!";
    print {$fh} $bytes;
    close $fh or croak "$file: $!";
    return $file;
}

sub ffmpeg_decodes {
    my ($bytes) = @_;
    my $file = _to_file('decode.bin', $bytes);
    my $err = qx(ffmpeg -nostdin -hide_banner -v error -i '$file' -f null - 2>&1);
    return $? == 0 && $err eq '';
}

sub noise_bytes {
    my ($n, $seed) = @_;
    my $s = '';
    my $x = $seed;
    while (length $s < $n) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $s .= pack('N', $x);
    }
    return substr($s, 0, $n);
}

sub ffprobe_streams {
    my ($bytes) = @_;
    my $file = _to_file('probe.bin', $bytes);
    my $json = qx(ffprobe -v error -print_format json -show_streams -show_format '$file');
    croak "ffprobe failed: $?" if $?;
    my $p = decode_json($json);
    return wantarray ? ($p->{streams} // [], $p->{format} // {}) : ($p->{streams} // []);
}

1;
