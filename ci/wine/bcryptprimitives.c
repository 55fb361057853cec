/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Rust-built
 * .exe files under Wine 8.0 (Debian 12), which lacks that DLL. Rust's std
 * (1.78+) imports ProcessPrng from it for all its randomness (HashMap keys
 * and more), so without it every Rust .exe fails to start under that Wine.
 *
 * ProcessPrng is answered with SystemFunction036 (RtlGenRandom) from
 * advapi32, which Wine has: the OS's CSPRNG either way.
 *
 * A TEST AID ONLY: it is placed beside an .exe being run under Wine in CI
 * (ci/wine/wine-run). It never goes into a release archive or the crate
 * package; scripts/release.sh and ci/wine/smoke.sh check that.
 */
#include <windows.h>

__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
