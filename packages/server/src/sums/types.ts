export interface UpdatePackage { readonly images: Readonly<Record<string, string>> }
