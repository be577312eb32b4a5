/* C interface of libelectra_spm.so, a thin wrapper over libsentencepiece.
 *
 * Why a separate, dlopen'ed library: Debian's libsentencepiece bundles its own protobuf 3.14
 * and exports those symbols, while LibTorch links the system protobuf 3.21. Loaded side by
 * side in the global symbol scope, one library's protobuf calls land in the other's copy and
 * the process crashes during static initialisation. This wrapper is loaded with dlmopen into a
 * link-map namespace of its own, where sentencepiece sees only its own protobuf (and its own
 * libstdc++). Only plain C types cross the boundary, and every buffer belongs to the caller. */
#ifndef ELECTRA_SPM_BRIDGE_H_
#define ELECTRA_SPM_BRIDGE_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct espm espm;

/* Loads a serialized ModelProto; NULL on failure with a message in err. */
espm* espm_load(const char* bytes, size_t n, char* err, size_t errlen);
void espm_free(espm* m);
int espm_piece_size(const espm* m);
int espm_unk_id(const espm* m);
/* -1 when the piece is not in the vocabulary. */
int espm_piece_to_id(const espm* m, const char* piece, size_t n);
/* Copies the piece (NUL-terminated, truncated to buflen); returns its full length. */
size_t espm_id_to_piece(const espm* m, int id, char* buf, size_t buflen);
/* Writes up to cap ids; returns how many there are (call again with more room if > cap). */
size_t espm_encode_ids(const espm* m, const char* text, size_t n, int* out, size_t cap);
/* Pieces as consecutive NUL-terminated strings; returns the bytes needed. */
size_t espm_encode_pieces(const espm* m, const char* text, size_t n, char* buf, size_t cap);
/* Decoded text (not NUL-terminated); returns the bytes needed. */
size_t espm_decode_ids(const espm* m, const int* ids, size_t n, char* buf, size_t cap);

/* Training: `next` fills *text and *n with the next sentence and returns 1, or returns 0 at end. */
typedef int (*espm_next_sentence)(void* ctx, const char** text, size_t* n);
/* Returns 0 on success; otherwise writes a message to err. */
int espm_train(const char* const* keys, const char* const* values, size_t nargs,
               espm_next_sentence next, void* ctx, char* err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* ELECTRA_SPM_BRIDGE_H_ */
